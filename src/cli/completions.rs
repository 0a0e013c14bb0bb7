use clap::{Args, CommandFactory, ValueEnum};

use crate::cli::{Cli, Console, write_out};
use crate::error::Error;
use crate::exit::Outcome;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells clap_complete writes scripts for that people use with strata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Prints the completion script: `strata completions bash > /etc/bash_completion.d/strata`,
/// `strata completions zsh > "${fpath[1]}/_strata"`, `strata completions fish > ~/.config/fish/completions/strata.fish`.
pub fn run(args: &CompletionsArgs, console: &mut Console) -> Result<Outcome, Error> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "strata", &mut script);
    write_out(console.out, &String::from_utf8_lossy(&script))?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Style;

    fn script(shell: Shell) -> String {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut input = std::io::empty();
        let mut console = Console {
            out: &mut out,
            err: &mut err,
            input: &mut input,
            style: Style::PLAIN,
            err_style: Style::PLAIN,
            interactive: false,
        };
        run(&CompletionsArgs { shell }, &mut console).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_shell_gets_a_script_that_knows_the_subcommands_and_their_options() {
        let bash = script(Shell::Bash);
        assert!(bash.contains("complete -F _strata"), "{bash}");
        assert!(bash.contains("--detailed-exitcode") && bash.contains("--allow-replace"));
        let zsh = script(Shell::Zsh);
        assert!(zsh.starts_with("#compdef strata"), "{zsh}");
        assert!(zsh.contains("drift") && zsh.contains("--show-origin"));
        let fish = script(Shell::Fish);
        assert!(fish.contains("complete -c strata"), "{fish}");
        assert!(fish.contains("destroy") && fish.contains("completions"));
    }
}
