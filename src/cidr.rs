//! Address planning: the VPC CIDR is checked and carved into subnets here, offline,
//! so templates carry literal CIDRs and overlaps or exhaustion fail before AWS sees them.

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

/// AWS accepts VPC and subnet prefixes from /16 to /28.
pub const LARGEST_PREFIX: u8 = 16;
pub const SMALLEST_PREFIX: u8 = 28;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("`{0}` is not an IPv4 CIDR such as 10.0.0.0/16")]
    Malformed(String),
    #[error("`{given}` has host bits set; the network is {network}")]
    HostBitsSet { given: String, network: Ipv4Net },
    #[error("`{0}` is not in a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")]
    NotPrivate(Ipv4Net),
    #[error("prefix /{prefix} is outside what AWS allows for {what} (/16 to /28)")]
    PrefixOutOfRange { what: &'static str, prefix: u8 },
    #[error(
        "subnets do not fit: {zones} public /{public} and {zones} private /{private} subnets need {needed} addresses, the VPC {vpc} has {available}"
    )]
    DoesNotFit {
        vpc: Ipv4Net,
        zones: usize,
        public: u8,
        private: u8,
        needed: u64,
        available: u64,
    },
}

/// Parses a VPC CIDR and insists on a private range and an allowed prefix.
pub fn parse_vpc_cidr(text: &str) -> Result<Ipv4Net, CidrError> {
    let net = parse_ipv4_network(text)?;
    let private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
        .iter()
        .filter_map(|range| range.parse::<Ipv4Net>().ok())
        .any(|range| range.contains(&net));
    if !private {
        return Err(CidrError::NotPrivate(net));
    }
    check_prefix("a VPC", net.prefix_len())?;
    Ok(net)
}

/// Parses `a.b.c.d/n` and refuses host bits, which usually mean a typo.
pub fn parse_ipv4_network(text: &str) -> Result<Ipv4Net, CidrError> {
    let net: Ipv4Net = text
        .trim()
        .parse()
        .map_err(|_| CidrError::Malformed(text.to_string()))?;
    if net.network() != net.addr() {
        return Err(CidrError::HostBitsSet {
            given: text.to_string(),
            network: net.trunc(),
        });
    }
    Ok(net)
}

/// Parses an ingress source (IPv4 or IPv6 CIDR) with host bits cleared.
pub fn parse_source_cidr(text: &str) -> Result<IpNet, CidrError> {
    let net: IpNet = text
        .trim()
        .parse()
        .map_err(|_| CidrError::Malformed(text.to_string()))?;
    if net.network() != net.addr() {
        return Err(CidrError::Malformed(format!(
            "{text} (host bits set; the network is {})",
            net.trunc()
        )));
    }
    Ok(net)
}

pub fn check_prefix(what: &'static str, prefix: u8) -> Result<(), CidrError> {
    if (LARGEST_PREFIX..=SMALLEST_PREFIX).contains(&prefix) {
        Ok(())
    } else {
        Err(CidrError::PrefixOutOfRange { what, prefix })
    }
}

/// The subnets of one VPC: index i of each list belongs to availability zone i.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetPlan {
    pub public: Vec<Ipv4Net>,
    pub private: Vec<Ipv4Net>,
}

/// Carves `zones` public and `zones` private subnets out of `vpc`.
///
/// Larger blocks are placed first, each aligned to its own size, so the layout never wastes
/// a gap in front of a big block and the same inputs always give the same CIDRs.
pub fn plan_subnets(
    vpc: Ipv4Net,
    zones: usize,
    public_prefix: u8,
    private_prefix: u8,
) -> Result<SubnetPlan, CidrError> {
    check_prefix("a subnet", public_prefix)?;
    check_prefix("a subnet", private_prefix)?;
    let does_not_fit = || CidrError::DoesNotFit {
        vpc,
        zones,
        public: public_prefix,
        private: private_prefix,
        needed: zones as u64 * (block_size(public_prefix) + block_size(private_prefix)),
        available: block_size(vpc.prefix_len()),
    };
    if public_prefix < vpc.prefix_len() || private_prefix < vpc.prefix_len() {
        return Err(does_not_fit());
    }

    // Tiers in placement order: the larger blocks (smaller prefix) first; public first on a tie.
    let mut tiers = [
        (Tier::Public, public_prefix),
        (Tier::Private, private_prefix),
    ];
    tiers.sort_by_key(|(tier, prefix)| (*prefix, *tier));

    let start = u64::from(u32::from(vpc.network()));
    let end = start + block_size(vpc.prefix_len());
    let mut cursor = start;
    let mut plan = SubnetPlan {
        public: Vec::new(),
        private: Vec::new(),
    };
    for (tier, prefix) in tiers {
        let size = block_size(prefix);
        for _ in 0..zones {
            cursor = cursor.div_ceil(size) * size;
            if cursor + size > end {
                return Err(does_not_fit());
            }
            let address = Ipv4Addr::from(u32::try_from(cursor).map_err(|_| does_not_fit())?);
            let net = Ipv4Net::new(address, prefix).map_err(|_| does_not_fit())?;
            match tier {
                Tier::Public => plan.public.push(net),
                Tier::Private => plan.private.push(net),
            }
            cursor += size;
        }
    }
    Ok(plan)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    Public,
    Private,
}

fn block_size(prefix: u8) -> u64 {
    1u64 << (32 - u32::from(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[Ipv4Net]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn larger_private_subnets_come_first_then_public() {
        let plan = plan_subnets("10.10.0.0/16".parse().unwrap(), 3, 24, 20).unwrap();
        assert_eq!(
            nets(&plan.private),
            ["10.10.0.0/20", "10.10.16.0/20", "10.10.32.0/20"]
        );
        assert_eq!(
            nets(&plan.public),
            ["10.10.48.0/24", "10.10.49.0/24", "10.10.50.0/24"]
        );
    }

    #[test]
    fn equal_sizes_put_public_first() {
        let plan = plan_subnets("192.168.0.0/22".parse().unwrap(), 3, 25, 25).unwrap();
        assert_eq!(
            nets(&plan.public),
            ["192.168.0.0/25", "192.168.0.128/25", "192.168.1.0/25"]
        );
        assert_eq!(
            nets(&plan.private),
            ["192.168.1.128/25", "192.168.2.0/25", "192.168.2.128/25"]
        );
    }

    #[test]
    fn smaller_blocks_after_larger_ones_stay_aligned() {
        let plan = plan_subnets("10.0.0.0/20".parse().unwrap(), 3, 26, 22).unwrap();
        assert_eq!(
            nets(&plan.private),
            ["10.0.0.0/22", "10.0.4.0/22", "10.0.8.0/22"]
        );
        assert_eq!(
            nets(&plan.public),
            ["10.0.12.0/26", "10.0.12.64/26", "10.0.12.128/26"]
        );
    }

    #[test]
    fn subnets_never_overlap_and_stay_inside_the_vpc() {
        let vpc: Ipv4Net = "172.20.0.0/16".parse().unwrap();
        for public in 18..=28 {
            for private in 18..=28 {
                let Ok(plan) = plan_subnets(vpc, 3, public, private) else {
                    continue;
                };
                let all: Vec<Ipv4Net> = plan.public.iter().chain(&plan.private).copied().collect();
                for (i, a) in all.iter().enumerate() {
                    assert!(vpc.contains(a));
                    for b in &all[i + 1..] {
                        assert!(!a.contains(b) && !b.contains(a), "{a} overlaps {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn exhaustion_is_reported_with_the_numbers() {
        let err = plan_subnets("10.0.0.0/24".parse().unwrap(), 3, 26, 26).unwrap_err();
        assert_eq!(
            err.to_string(),
            "subnets do not fit: 3 public /26 and 3 private /26 subnets need 384 addresses, the VPC 10.0.0.0/24 has 256"
        );
    }

    #[test]
    fn a_subnet_larger_than_the_vpc_does_not_fit() {
        let err = plan_subnets("10.0.0.0/20".parse().unwrap(), 3, 24, 18).unwrap_err();
        assert!(matches!(err, CidrError::DoesNotFit { .. }));
    }

    #[test]
    fn vpc_cidr_must_be_private_well_formed_and_sized() {
        assert!(parse_vpc_cidr("10.1.0.0/16").is_ok());
        assert!(parse_vpc_cidr("172.31.0.0/16").is_ok());
        assert_eq!(
            parse_vpc_cidr("8.8.0.0/16").unwrap_err().to_string(),
            "`8.8.0.0/16` is not in a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"
        );
        assert!(matches!(
            parse_vpc_cidr("172.32.0.0/16"),
            Err(CidrError::NotPrivate(_))
        ));
        assert!(matches!(
            parse_vpc_cidr("10.0.0.0/33"),
            Err(CidrError::Malformed(_))
        ));
        assert!(matches!(
            parse_vpc_cidr("10.0.0/16"),
            Err(CidrError::Malformed(_))
        ));
        assert!(matches!(
            parse_vpc_cidr("10.0.0.1/16"),
            Err(CidrError::HostBitsSet { .. })
        ));
        assert!(matches!(
            parse_vpc_cidr("10.0.0.0/8"),
            Err(CidrError::PrefixOutOfRange { prefix: 8, .. })
        ));
    }

    #[test]
    fn ingress_sources_accept_ipv4_and_ipv6() {
        assert!(parse_source_cidr("203.0.113.0/24").is_ok());
        assert!(parse_source_cidr("2001:db8::/32").is_ok());
        assert!(parse_source_cidr("203.0.113.7/24").is_err());
        assert!(parse_source_cidr("office").is_err());
    }
}
