//! The `.reg` text for the synthetic image's SOFTWARE hive. The generator does not write regf
//! itself: `ci/bench/run.sh` merges this text into hivex's minimal hive with
//! `hivexregedit --merge`, so the hive is built by a tool no one here wrote.

use crate::content::{name_hex, name_word};
use crate::keys::SYNTHETIC_MAKS;
use crate::rng::Rng;

const CLASSES_PER_GROUP: u64 = 20;

/// `.reg` sections under `HKEY_LOCAL_MACHINE\SOFTWARE`: the image identity, the
/// `SoftwareProtectionPlatform` key holding a planted synthetic MAK in `BackupProductKeyDefault`,
/// and `classes` COM class registrations so the hive has a realistic bulk to walk.
pub(crate) fn software_reg(seed: u64, classes: u64) -> String {
    let mut rng = Rng::new(seed ^ 0x5EED_4E61_5354_5259);
    let mut out = String::from("Windows Registry Editor Version 5.00\n\n");
    let base = r"HKEY_LOCAL_MACHINE\SOFTWARE";
    for parent in ["Microsoft", r"Microsoft\Windows NT", "Classes"] {
        out.push_str(&format!("[{base}\\{parent}]\n\n"));
    }
    out.push_str(&format!(
        "[{base}\\Microsoft\\Windows NT\\CurrentVersion]\n\"EditionID\"=\"Enterprise\"\n\"CompositionEditionID\"=\"Enterprise\"\n\"ProductName\"=\"Windows 10 Enterprise\"\n\"DisplayVersion\"=\"24H2\"\n\"CurrentBuild\"=\"26100\"\n\"CurrentBuildNumber\"=\"26100\"\n\"InstallationType\"=\"Client\"\n\n"
    ));
    out.push_str(&format!(
        "[{base}\\Microsoft\\Windows NT\\CurrentVersion\\SoftwareProtectionPlatform]\n\"BackupProductKeyDefault\"=\"{}\"\n\"KeyManagementServiceName\"=\"kms.example.invalid\"\n\n",
        SYNTHETIC_MAKS[0]
    ));
    // hivexregedit rewrites a parent's subkey list for every child it adds, so children are
    // spread over many parents: one parent with thousands of children makes the merge quadratic.
    for group in 0..classes.div_ceil(CLASSES_PER_GROUP) {
        let vendor = format!("{}{}{group}", name_word(&mut rng), name_word(&mut rng));
        out.push_str(&format!(
            "[{base}\\Classes\\{vendor}]\n\n[{base}\\Classes\\{vendor}\\CLSID]\n\n"
        ));
        for _ in 0..CLASSES_PER_GROUP.min(classes - group * CLASSES_PER_GROUP) {
            let h = name_hex(&mut rng, 32);
            let clsid = format!(
                "{{{}-{}-{}-{}-{}}}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            );
            let dll = format!("{}{}.dll", name_word(&mut rng), name_word(&mut rng));
            out.push_str(&format!(
                "[{base}\\Classes\\{vendor}\\CLSID\\{clsid}]\n@=\"{} {} Class\"\n\"ThreadingModel\"=\"Both\"\n\"InprocServer32\"=hex(2):{}\n\n",
                name_word(&mut rng),
                name_word(&mut rng),
                expand_sz_hex(&format!("%SystemRoot%\\System32\\{dll}"))
            ));
        }
    }
    out
}

/// `REG_EXPAND_SZ` data as regedit writes it: UTF-16LE with a terminating NUL, as hex bytes.
fn expand_sz_hex(text: &str) -> String {
    let bytes: Vec<String> = text
        .encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .map(|b| format!("{b:02x}"))
        .collect();
    bytes.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reg_text_is_deterministic_and_holds_identity_and_classes() {
        let a = software_reg(9, 3);
        assert_eq!(a, software_reg(9, 3));
        assert!(a.contains("\"EditionID\"=\"Enterprise\""));
        assert_eq!(a.matches("\"InprocServer32\"=hex(2):").count(), 3);
    }

    #[test]
    fn expand_sz_is_utf16le_with_nul() {
        assert_eq!(expand_sz_hex("A"), "41,00,00,00");
    }
}
