// Policy evaluation spends most of its time allocating and freeing (cfn-guard clones the values its
// queries visit; see the profile noted in benches/policy.rs); mimalloc makes that markedly cheaper
// than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    strata::cli::main_with_args(std::env::args_os())
}
