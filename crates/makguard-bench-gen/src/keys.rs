//! The keys the generator plants. Only synthetic keys from
//! `../shared/reference/synthetic-keys.tsv` (well-formed, checksum-valid, activating nothing):
//! a benchmark tree must never carry a real product key.

/// The synthetic MAK stand-ins (groups 990001 and 990002), in the order of the reference file.
pub(crate) const SYNTHETIC_MAKS: [&str; 10] = [
    "6QWQ4-8NRCW-KHGHV-CR226-3PPQC",
    "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC",
    "7N3Q7-T3FJC-Y4CMG-YH7G8-H82QC",
    "N626J-X9XJH-63FFJ-PM9DV-W8QKP",
    "9GNTF-JW8PJ-FYX6B-3D7CM-JFRG2",
    "FKV9N-PQMDY-2VWBR-MMT4X-GCYT2",
    "YNTHT-YF2BV-TTMDY-RHH7J-VCPQD",
    "X8JHN-BMPRJ-29XJM-7MC4J-69BT3",
    "WNP6R-TTVTX-Q8QKV-3GBRW-H82QD",
    "VCVN8-VKDGP-W4927-FCYPC-JXKXQ",
];

/// The key as the summary may show it: only its last group, like makguard's own masking.
pub(crate) fn masked(key: &str) -> String {
    let last = key.rsplit('-').next().unwrap_or("");
    format!("*****-*****-*****-*****-{last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_five_groups_of_five_and_masking_keeps_only_the_last_group() {
        for key in SYNTHETIC_MAKS {
            let groups: Vec<&str> = key.split('-').collect();
            assert_eq!(groups.len(), 5);
            assert!(groups.iter().all(|g| g.len() == 5));
            let shown = masked(key);
            assert!(shown.ends_with(groups[4]));
            assert!(!shown.contains(groups[0]));
        }
    }
}
