//! Names strata gives to things in AWS, and the rules AWS imposes on them.

/// `{project}-{env}-{stack}`: the CloudFormation stack of one stack definition.
pub fn stack_name(project: &str, environment: &str, stack: &str) -> String {
    format!("{project}-{environment}-{stack}")
}

/// `{project}-{env}-{stack}-{Output}`: the export other stacks import.
pub fn export_name(project: &str, environment: &str, stack: &str, output: &str) -> String {
    format!("{project}-{environment}-{stack}-{output}")
}

/// Globally unique bucket name: project, environment, purpose and account.
pub fn bucket_name(project: &str, environment: &str, purpose: &str, account_id: &str) -> String {
    format!("{project}-{environment}-{purpose}-{account_id}")
}

/// `photoUploaded` or `photo-uploaded` -> `PhotoUploaded`, for logical ids.
pub fn pascal_case(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Lowercase letters, digits and inner hyphens: safe in stack, bucket and queue names alike.
pub fn check_slug(text: &str, max_len: usize) -> Result<(), String> {
    let valid = !text.is_empty()
        && text.len() <= max_len
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && !text.ends_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{text}` must be 1-{max_len} characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen"
        ))
    }
}

/// The S3 bucket naming rules for general purpose buckets.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("bucket name `{name}` {why}"));
    if name.len() < 3 || name.len() > 63 {
        return fail(&format!(
            "is {} characters long; S3 allows 3 to 63",
            name.len()
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        return fail("may contain only lowercase letters, digits, hyphens and dots");
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return fail("must begin and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return fail("must not contain adjacent dots or a dot next to a hyphen");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return fail("must not look like an IP address");
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return fail(&format!("must not start with `{prefix}`"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap"] {
        if name.ends_with(suffix) {
            return fail(&format!("must not end with `{suffix}`"));
        }
    }
    Ok(())
}

/// A name of 1 to `max` letters, digits, hyphens and underscores (Lambda function names, SNS topic
/// names; `what` says which in the message).
pub fn check_word_name(name: &str, max: usize, what: &str) -> Result<(), String> {
    if !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(format!(
            "{what} name `{name}` must be 1 to {max} letters, digits, hyphens and underscores"
        ))
    }
}

/// SQS queue names: 1-80 of letters, digits, hyphens and underscores; FIFO queues end in `.fifo`.
pub fn check_queue_name(name: &str, fifo: bool) -> Result<(), String> {
    let base = if fifo {
        match name.strip_suffix(".fifo") {
            Some(base) => base,
            None => return Err(format!("FIFO queue name `{name}` must end with `.fifo`")),
        }
    } else {
        name
    };
    if name.is_empty() || name.len() > 80 {
        return Err(format!(
            "queue name `{name}` is {} characters long; SQS allows 1 to 80",
            name.len()
        ));
    }
    if !base
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "queue name `{name}` may contain only letters, digits, hyphens and underscores"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_case_handles_camel_kebab_and_snake() {
        assert_eq!(pascal_case("photoUploaded"), "PhotoUploaded");
        assert_eq!(pascal_case("photo-store"), "PhotoStore");
        assert_eq!(pascal_case("thumb_jobs"), "ThumbJobs");
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(check_bucket_name("photofeed-dev-inbox-111111111111").is_ok());
        assert!(
            check_bucket_name(&"a".repeat(64))
                .unwrap_err()
                .contains("64 characters")
        );
        assert!(check_bucket_name("Upper-case").is_err());
        assert!(check_bucket_name("under_score").is_err());
        assert!(check_bucket_name("-leading").is_err());
        assert!(check_bucket_name("a..b").is_err());
        assert!(check_bucket_name("192.168.1.1").is_err());
        assert!(check_bucket_name("xn--bucket").is_err());
        assert!(check_bucket_name("bucket-s3alias").is_err());
    }

    #[test]
    fn queue_names_follow_sqs_rules() {
        assert!(check_queue_name("photofeed-dev-photoUploaded", false).is_ok());
        assert!(check_queue_name("jobs.fifo", true).is_ok());
        assert!(check_queue_name("jobs", true).is_err());
        assert!(check_queue_name("bad name", false).is_err());
        assert!(check_queue_name(&"q".repeat(81), false).is_err());
    }

    #[test]
    fn slugs_are_lowercase_and_bounded() {
        assert!(check_slug("photofeed", 20).is_ok());
        assert!(check_slug("Photo", 20).is_err());
        assert!(check_slug("1abc", 20).is_err());
        assert!(check_slug("abc-", 20).is_err());
        assert!(check_slug("abcdef", 5).is_err());
    }
}
