//! The shape of the synthetic image: which files exist, where, of which kind and size, and
//! where keys are planted. Planning is sequential and cheap; writing the bytes is parallel.
//!
//! The layout follows a Windows 11 image: a deep `Windows/WinSxS` of component folders (one
//! manifest and some catalogs each), `System32` with per-language `.mui` folders, the driver
//! store, servicing packages, .NET, policy definitions, fonts, logs, apps under
//! `Program Files`, and a few large installers and downloads. Counts scale with `scale`.

use std::collections::HashSet;

use crate::content::{Kind, Plant, language, name_hex, name_word};
use crate::keys::SYNTHETIC_MAKS;
use crate::rng::Rng;

#[derive(Debug, Clone)]
pub(crate) struct FileSpec {
    /// Relative to the output root, `/`-separated.
    pub path: String,
    pub kind: Kind,
    pub size: u64,
    pub plant: Option<Plant>,
}

/// Where a key was planted, for the summary (and for judging a scan's findings).
#[derive(Debug, Clone)]
pub(crate) struct PlantRecord {
    pub path: String,
    pub key: &'static str,
    pub how: String,
    /// True where makguard's default scan must find it; false for keys only `--deep` sees.
    pub default_scan: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub files: Vec<FileSpec>,
    pub planted: Vec<PlantRecord>,
}

/// A file-type mix: (extension, kind, weight).
type Mix = &'static [(&'static str, Kind, u32)];

const SXS_MIX: Mix = &[
    ("dll", Kind::Pe, 620),
    ("exe", Kind::Pe, 60),
    ("sys", Kind::Pe, 30),
    ("mui", Kind::Mui, 40),
    ("xml", Kind::Xml, 60),
    ("inf", Kind::Inf, 25),
    ("txt", Kind::Txt, 10),
    ("json", Kind::Json, 8),
    ("ini", Kind::Ini, 5),
    ("png", Kind::Data, 60),
    ("dat", Kind::Data, 30),
    ("ttf", Kind::Data, 5),
    ("ps1", Kind::Ps1, 12),
    ("psm1", Kind::Ps1, 4),
    ("js", Kind::Vbs, 2),
    ("vbs", Kind::Vbs, 2),
    ("cmd", Kind::Cmd, 4),
    ("log", Kind::Log, 2),
];
const SYSTEM32_MIX: Mix = &[
    ("dll", Kind::Pe, 780),
    ("exe", Kind::Pe, 120),
    ("xml", Kind::Xml, 20),
    ("txt", Kind::Txt, 5),
    ("ini", Kind::Ini, 5),
    ("json", Kind::Json, 4),
    ("cmd", Kind::Cmd, 3),
    ("vbs", Kind::Vbs, 3),
    ("dat", Kind::Data, 60),
];
const NET_MIX: Mix = &[
    ("dll", Kind::Pe, 70),
    ("exe", Kind::Pe, 5),
    ("config", Kind::Xml, 5),
    ("xml", Kind::Xml, 10),
    ("txt", Kind::Txt, 2),
    ("dat", Kind::Data, 8),
];
const APP_MIX: Mix = &[
    ("dll", Kind::Pe, 45),
    ("exe", Kind::Pe, 8),
    ("mui", Kind::Mui, 2),
    ("xml", Kind::Xml, 8),
    ("json", Kind::Json, 5),
    ("txt", Kind::Txt, 4),
    ("ini", Kind::Ini, 2),
    ("log", Kind::Log, 1),
    ("png", Kind::Data, 20),
    ("pak", Kind::Data, 5),
    ("ps1", Kind::Ps1, 1),
    ("cmd", Kind::Cmd, 1),
];
const UWP_MIX: Mix = &[
    ("png", Kind::Data, 60),
    ("dll", Kind::Pe, 15),
    ("xml", Kind::Xml, 5),
    ("json", Kind::Json, 5),
    ("js", Kind::Vbs, 8),
    ("pri", Kind::Data, 2),
    ("winmd", Kind::Pe, 5),
];
const PROGRAMDATA_MIX: Mix = &[
    ("xml", Kind::Xml, 30),
    ("ini", Kind::Ini, 10),
    ("json", Kind::Json, 10),
    ("log", Kind::Log, 20),
    ("dat", Kind::Data, 30),
];

fn size_for(kind: Kind, rng: &mut Rng) -> u64 {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    match kind {
        Kind::Pe => rng.lognormal(10_000.0, 1.3, 3 * KIB, 24 * MIB),
        Kind::Mui => rng.lognormal(6_000.0, 0.9, 2 * KIB, 2 * MIB),
        Kind::Catalog => rng.lognormal(7_000.0, 0.8, 1_500, 2 * MIB),
        Kind::Pnf => rng.lognormal(16_000.0, 0.9, 2 * KIB, MIB),
        Kind::Data => rng.lognormal(9_000.0, 1.4, 500, 16 * MIB),
        Kind::Manifest => rng.lognormal(3_000.0, 0.8, 800, 400 * KIB),
        Kind::Xml => rng.lognormal(2_500.0, 1.0, 300, 2 * MIB),
        Kind::Admx => rng.lognormal(12_000.0, 0.9, KIB, MIB),
        Kind::Inf => rng.lognormal(5_000.0, 1.1, 400, 2 * MIB),
        Kind::Log => rng.lognormal(12_000.0, 1.5, 200, 8 * MIB),
        Kind::Txt => rng.lognormal(2_000.0, 1.1, 100, MIB),
        Kind::Ini => rng.lognormal(800.0, 0.8, 100, 64 * KIB),
        Kind::Json => rng.lognormal(2_000.0, 1.0, 100, MIB),
        Kind::Cmd => rng.lognormal(1_000.0, 0.8, 100, 64 * KIB),
        Kind::Ps1 => rng.lognormal(6_000.0, 1.0, 300, 512 * KIB),
        Kind::Vbs => rng.lognormal(8_000.0, 1.0, 300, 512 * KIB),
    }
}

fn pick_mix(rng: &mut Rng, mix: Mix) -> (&'static str, Kind) {
    let total: u32 = mix.iter().map(|m| m.2).sum();
    let mut roll = rng.below(total as usize) as u32;
    for (ext, kind, weight) in mix {
        if roll < *weight {
            return (ext, *kind);
        }
        roll -= weight;
    }
    (mix[0].0, mix[0].1)
}

struct Builder {
    rng: Rng,
    scale: f64,
    plan: Plan,
    /// Lower-cased paths taken so far: the image is case-insensitive, so names must differ
    /// in more than case.
    taken: HashSet<String>,
}

impl Builder {
    fn count(&self, n: u64) -> u64 {
        ((n as f64 * self.scale).round() as u64).max(1)
    }

    fn unique(&mut self, path: String) -> String {
        if self.taken.insert(path.to_ascii_lowercase()) {
            return path;
        }
        let (stem, ext) = match path.rfind('.') {
            Some(dot) if dot > path.rfind('/').unwrap_or(0) => (&path[..dot], &path[dot..]),
            _ => (path.as_str(), ""),
        };
        let mut n = 2;
        loop {
            let candidate = format!("{stem}{n}{ext}");
            if self.taken.insert(candidate.to_ascii_lowercase()) {
                return candidate;
            }
            n += 1;
        }
    }

    fn add_sized(&mut self, path: String, kind: Kind, size: u64) -> usize {
        let path = self.unique(path);
        self.plan.files.push(FileSpec {
            path,
            kind,
            size,
            plant: None,
        });
        self.plan.files.len() - 1
    }

    fn add(&mut self, path: String, kind: Kind) -> usize {
        let size = size_for(kind, &mut self.rng);
        self.add_sized(path, kind, size)
    }

    fn file_name(&mut self, ext: &str) -> String {
        let stem = format!("{}{}", name_word(&mut self.rng), name_word(&mut self.rng));
        if ext.is_empty() { stem } else { format!("{stem}.{ext}") }
    }

    /// `n` (scaled) files of `mix` in `dir`.
    fn bulk(&mut self, dir: &str, n: u64, mix: Mix) {
        for _ in 0..self.count(n) {
            let (ext, kind) = pick_mix(&mut self.rng, mix);
            let name = self.file_name(ext);
            self.add(format!("{dir}/{name}"), kind);
        }
    }

    fn bulk_kind(&mut self, dir: &str, n: u64, ext: &str, kind: Kind) {
        for _ in 0..self.count(n) {
            let name = self.file_name(ext);
            self.add(format!("{dir}/{name}"), kind);
        }
    }

    fn winsxs(&mut self) {
        for _ in 0..self.count(24_000) {
            let rng = &mut self.rng;
            let arch = rng.pick(&[
                "amd64", "amd64", "amd64", "amd64", "amd64", "amd64", "wow64", "wow64", "x86", "msil",
            ]);
            let name = if arch == "msil" {
                format!("system.{}.{}", name_word(rng), name_word(rng))
            } else {
                format!("microsoft-windows-{}-{}", name_word(rng), name_word(rng))
            };
            let lang = if rng.chance(0.18) { "en-us" } else { "none" };
            let component = format!(
                "{arch}_{name}_31bf3856ad364e35_10.0.26100.{}_{lang}_{}",
                rng.range(1, 4200),
                name_hex(rng, 16)
            );
            let files = rng.lognormal(2.6, 0.9, 1, 60);
            for _ in 0..files {
                let (ext, kind) = if lang == "en-us" {
                    if self.rng.chance(0.9) {
                        ("mui", Kind::Mui)
                    } else {
                        ("xml", Kind::Xml)
                    }
                } else {
                    pick_mix(&mut self.rng, SXS_MIX)
                };
                let file = self.file_name(ext);
                self.add(format!("Windows/WinSxS/{component}/{file}"), kind);
            }
            self.add(format!("Windows/WinSxS/Manifests/{component}.manifest"), Kind::Manifest);
            if self.rng.chance(0.3) {
                let hash = name_hex(&mut self.rng, 64);
                self.add(format!("Windows/WinSxS/Catalogs/{hash}.cat"), Kind::Catalog);
            }
        }
    }

    fn system32(&mut self) {
        self.bulk("Windows/System32", 3_200, SYSTEM32_MIX);
        for lang in ["en-US", "de-DE", "fr-FR"] {
            self.bulk_kind(&format!("Windows/System32/{lang}"), 1_500, "dll.mui", Kind::Mui);
        }
        self.bulk_kind("Windows/System32/drivers", 500, "sys", Kind::Pe);
        self.bulk_kind("Windows/System32/drivers/en-US", 300, "sys.mui", Kind::Mui);
        self.bulk_kind(
            "Windows/System32/catroot/{F750E6C3-38EE-11D1-85E5-00C04FC295EE}",
            2_500,
            "cat",
            Kind::Catalog,
        );
        self.driver_store();
        self.powershell_modules();
        self.system32_services_and_large_binaries();
        self.bulk("Windows/SysWOW64", 2_200, SYSTEM32_MIX);
        self.bulk_kind("Windows/SysWOW64/en-US", 1_200, "dll.mui", Kind::Mui);
    }

    fn driver_store(&mut self) {
        for _ in 0..self.count(700) {
            let driver = name_word(&mut self.rng).to_string();
            let dir = format!(
                "Windows/System32/DriverStore/FileRepository/{driver}.inf_amd64_{}",
                name_hex(&mut self.rng, 16)
            );
            self.add(format!("{dir}/{driver}.inf"), Kind::Inf);
            self.add(format!("{dir}/{driver}.cat"), Kind::Catalog);
            self.add(format!("{dir}/{driver}.sys"), Kind::Pe);
            if self.rng.chance(0.5) {
                self.bulk_kind(&dir, 1, "dll", Kind::Pe);
            }
            if self.rng.chance(0.3) {
                let lang = language(&mut self.rng);
                self.add(format!("{dir}/{lang}/{driver}.sys.mui"), Kind::Mui);
            }
        }
    }

    fn powershell_modules(&mut self) {
        for _ in 0..self.count(70) {
            let module = format!("{}{}", name_word(&mut self.rng), name_word(&mut self.rng));
            let dir = format!("Windows/System32/WindowsPowerShell/v1.0/Modules/{module}");
            self.add(format!("{dir}/{module}.psd1"), Kind::Ps1);
            self.add(format!("{dir}/{module}.psm1"), Kind::Ps1);
            self.bulk_kind(&dir, 3, "format.ps1xml", Kind::Xml);
            self.add(format!("{dir}/en-US/{module}-help.xml"), Kind::Xml);
        }
    }

    fn system32_services_and_large_binaries(&mut self) {
        self.bulk_kind(
            "Windows/System32/Tasks/Microsoft/Windows/Maintenance",
            300,
            "",
            Kind::Xml,
        );
        self.bulk(
            "Windows/System32/wbem",
            400,
            &[("dll", Kind::Pe, 40), ("mof", Kind::Txt, 40), ("mfl", Kind::Txt, 20)],
        );
        self.bulk(
            "Windows/System32/spool/drivers/x64/3",
            300,
            &[
                ("dll", Kind::Pe, 50),
                ("gpd", Kind::Txt, 30),
                ("ini", Kind::Ini, 10),
                ("ppd", Kind::Txt, 10),
            ],
        );
        self.bulk(
            "Windows/System32/oobe",
            100,
            &[("xml", Kind::Xml, 30), ("dll", Kind::Pe, 40), ("png", Kind::Data, 30)],
        );
        self.add("Windows/System32/Sysprep/sysprep.exe".into(), Kind::Pe);
        for (name, mib) in [
            ("MRT.exe", 48),
            ("edgehtml.dll", 24),
            ("Windows.UI.Xaml.dll", 18),
            ("ntoskrnl.exe", 12),
        ] {
            self.add_sized(format!("Windows/System32/{name}"), Kind::Pe, mib * 1024 * 1024);
        }
    }

    fn rest_of_windows(&mut self) {
        self.inf_and_servicing();
        self.dotnet();
        self.policies_fonts_and_logs();
        self.diagnostics_and_system_apps();
        self.help_media_and_installers();
    }

    fn inf_and_servicing(&mut self) {
        for _ in 0..self.count(1_300) {
            let stem = format!("{}{}", name_word(&mut self.rng), self.rng.below(1000));
            self.add(format!("Windows/INF/{stem}.inf"), Kind::Inf);
            self.add(format!("Windows/INF/{stem}.PNF"), Kind::Pnf);
        }
        for _ in 0..self.count(3_000) {
            let package = format!(
                "Microsoft-Windows-{}-{}-Package~31bf3856ad364e35~amd64~~10.0.26100.{}",
                name_word(&mut self.rng),
                name_word(&mut self.rng),
                self.rng.range(1, 4200)
            );
            self.add(format!("Windows/servicing/Packages/{package}.mum"), Kind::Manifest);
            self.add(format!("Windows/servicing/Packages/{package}.cat"), Kind::Catalog);
        }
    }

    fn dotnet(&mut self) {
        self.bulk("Windows/Microsoft.NET/Framework64/v4.0.30319", 1_200, NET_MIX);
        self.bulk("Windows/Microsoft.NET/Framework/v4.0.30319", 900, NET_MIX);
        for _ in 0..self.count(1_500) {
            let name = format!("System.{}.{}", name_word(&mut self.rng), name_word(&mut self.rng));
            self.add(
                format!("Windows/Microsoft.NET/assembly/GAC_MSIL/{name}/v4.0_4.0.0.0__b77a5c561934e089/{name}.dll"),
                Kind::Pe,
            );
        }
    }

    fn policies_fonts_and_logs(&mut self) {
        self.bulk_kind("Windows/PolicyDefinitions", 250, "admx", Kind::Admx);
        self.bulk_kind("Windows/PolicyDefinitions/en-US", 250, "adml", Kind::Admx);
        self.bulk_kind("Windows/Fonts", 320, "ttf", Kind::Data);
        for (name, mib) in [("msyh.ttc", 19), ("simsun.ttc", 17), ("YuGothR.ttc", 10)] {
            self.add_sized(format!("Windows/Fonts/{name}"), Kind::Data, mib * 1024 * 1024);
        }
        self.add_sized("Windows/Logs/CBS/CBS.log".into(), Kind::Log, 6 * 1024 * 1024);
        self.add_sized("Windows/Logs/DISM/dism.log".into(), Kind::Log, 3 * 1024 * 1024);
        for _ in 0..self.count(30) {
            let dir = format!("Windows/Logs/{}", name_word(&mut self.rng));
            self.bulk_kind(&dir, 5, "log", Kind::Log);
            self.bulk_kind(&dir, 6, "etl", Kind::Data);
        }
        self.add_sized("Windows/Panther/setupact.log".into(), Kind::Log, 2 * 1024 * 1024);
        self.add("Windows/Panther/setuperr.log".into(), Kind::Log);
        self.add("Windows/Panther/diagerr.xml".into(), Kind::Xml);
        self.add("Windows/Panther/UnattendGC/setupact.log".into(), Kind::Log);
    }

    fn diagnostics_and_system_apps(&mut self) {
        for _ in 0..self.count(40) {
            let dir = format!("Windows/diagnostics/system/{}", name_word(&mut self.rng));
            self.bulk_kind(&dir, 4, "ps1", Kind::Ps1);
            self.bulk_kind(&dir, 1, "diagpkg", Kind::Xml);
            self.bulk_kind(&dir, 1, "dll", Kind::Pe);
            self.bulk_kind(&format!("{dir}/en-US"), 2, "psd1", Kind::Ps1);
        }
        for _ in 0..self.count(60) {
            let dir = format!(
                "Windows/SystemApps/Microsoft.Windows.{}_cw5n1h2txyewy",
                name_word(&mut self.rng)
            );
            self.add(format!("{dir}/AppxManifest.xml"), Kind::Xml);
            self.bulk(&dir, 60, UWP_MIX);
        }
    }

    fn help_media_and_installers(&mut self) {
        self.bulk(
            "Windows/Help",
            400,
            &[("chm", Kind::Data, 50), ("h1s", Kind::Xml, 30), ("htm", Kind::Txt, 20)],
        );
        for _ in 0..self.count(15) {
            let name = self.file_name("jpg");
            let size = self.rng.range(1, 6) * 1024 * 1024;
            self.add_sized(format!("Windows/Web/Wallpaper/Windows/{name}"), Kind::Data, size);
        }
        for _ in 0..self.count(80) {
            let name = format!("{}.msi", name_hex(&mut self.rng, 7));
            let size = self.rng.lognormal(1_500_000.0, 1.0, 200_000, 48 * 1024 * 1024);
            self.add_sized(format!("Windows/Installer/{name}"), Kind::Data, size);
        }
        for _ in 0..self.count(12) {
            let dir = format!("Windows/SoftwareDistribution/Download/{}", name_hex(&mut self.rng, 32));
            let size = self.rng.range(4, 40) * 1024 * 1024;
            let kb = self.rng.range(5_000_000, 5_100_000);
            self.add_sized(format!("{dir}/windows11.0-kb{kb}-x64.cab"), Kind::Data, size);
        }
    }

    fn programs(&mut self) {
        for _ in 0..self.count(40) {
            let dir = format!(
                "Program Files/WindowsApps/Microsoft.{}_1.0.{}.0_x64__8wekyb3d8bbwe",
                name_word(&mut self.rng),
                self.rng.below(9999)
            );
            self.add(format!("{dir}/AppxManifest.xml"), Kind::Xml);
            self.bulk(&dir, 90, UWP_MIX);
        }
        for (root, apps, files) in [("Program Files", 45, 110), ("Program Files (x86)", 25, 80)] {
            for _ in 0..self.count(apps) {
                let vendor = name_word(&mut self.rng).to_string();
                let app = name_word(&mut self.rng).to_string();
                self.bulk(&format!("{root}/{vendor}/{app}"), files, APP_MIX);
            }
        }
        for _ in 0..self.count(30) {
            let dir = format!("ProgramData/Microsoft/{}", name_word(&mut self.rng));
            self.bulk(&dir, 20, PROGRAMDATA_MIX);
        }
        self.bulk(
            "Users/Default/AppData/Local/Microsoft/Windows",
            150,
            &[
                ("dat", Kind::Data, 40),
                ("xml", Kind::Xml, 30),
                ("ini", Kind::Ini, 15),
                ("json", Kind::Json, 15),
            ],
        );
    }

    /// A random existing file of `kind` whose path starts with `prefix`, not yet planted.
    fn pick_file(&mut self, prefix: &str, kinds: &[Kind], min_size: u64) -> Option<usize> {
        let matches: Vec<usize> = self
            .plan
            .files
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                f.plant.is_none() && f.path.starts_with(prefix) && kinds.contains(&f.kind) && f.size >= min_size
            })
            .map(|(i, _)| i)
            .collect();
        if matches.is_empty() {
            return None;
        }
        Some(matches[self.rng.below(matches.len())])
    }

    fn record(&mut self, index: usize, key: &'static str, how: String, default_scan: bool) {
        self.plan.planted.push(PlantRecord {
            path: self.plan.files[index].path.clone(),
            key,
            how,
            default_scan,
        });
    }

    fn plant_whole(&mut self, path: &str, kind: Kind, text: String, utf16: bool, key: &'static str, how: &str) {
        let index = self.add_sized(path.to_string(), kind, 0);
        let len = if utf16 {
            2 + text.encode_utf16().count() * 2
        } else {
            text.len()
        };
        self.plan.files[index].size = len as u64;
        self.plan.files[index].plant = Some(Plant::Whole { text, utf16 });
        self.record(index, key, how.to_string(), true);
    }

    fn plant_line(&mut self, prefix: &str, kind: Kind, line: String, key: &'static str, how: &str) {
        if let Some(index) = self.pick_file(prefix, &[kind], 0) {
            self.plan.files[index].size += line.len() as u64 + 2;
            self.plan.files[index].plant = Some(Plant::Line(line));
            self.record(index, key, how.to_string(), true);
        }
    }

    fn plant_binary(&mut self, prefix: &str, kinds: &[Kind], key: &'static str, utf16: bool, offset: Option<u64>) {
        let min_size = offset.map_or(64 * 1024, |o| o + 4096);
        if let Some(index) = self.pick_file(prefix, kinds, min_size) {
            let size = self.plan.files[index].size;
            let offset = offset.unwrap_or_else(|| self.rng.range(1024, size - 256));
            self.plan.files[index].plant = Some(Plant::Binary { key, utf16, offset });
            let encoding = if utf16 { "UTF-16LE" } else { "ASCII" };
            self.record(index, key, format!("binary, {encoding}, at byte {offset}"), false);
        }
    }

    /// Keys go where the default scan must find them and again inside binaries only `--deep`
    /// reads, so one tree measures both scans.
    fn plant_keys(&mut self) {
        self.plant_answer_files();
        self.plant_setup_scripts();
        self.plant_deployment_configs();
        self.plant_key_lines();
        self.plant_binary_keys();
    }

    fn plant_answer_files(&mut self) {
        let k = SYNTHETIC_MAKS;
        self.plant_whole(
            "Windows/Panther/unattend.xml",
            Kind::Xml,
            unattend_shell_setup(k[0]),
            false,
            k[0],
            "answer file, Shell-Setup ProductKey",
        );
        self.plant_whole(
            "Windows/System32/Sysprep/Unattend.XML",
            Kind::Xml,
            unattend_user_data(k[1]),
            false,
            k[1],
            "answer file, UserData/ProductKey/Key",
        );
    }

    fn plant_setup_scripts(&mut self) {
        let k = SYNTHETIC_MAKS;
        self.plant_whole(
            "Windows/Setup/Scripts/SetupComplete.cmd",
            Kind::Cmd,
            format!("@echo off\r\ncscript //b %windir%\\system32\\slmgr.vbs /ipk {}\r\ncscript //b %windir%\\system32\\slmgr.vbs /ato\r\n", k[2]),
            false,
            k[2],
            "SetupComplete.cmd, slmgr /ipk",
        );
        self.plant_whole(
            "Windows/Setup/Scripts/Activate.ps1",
            Kind::Ps1,
            format!(
                "# activation\r\n& cscript.exe //nologo \"$env:windir\\System32\\slmgr.vbs\" -ipk {}\r\n",
                k[3]
            ),
            true,
            k[3],
            "UTF-16LE PowerShell, slmgr -ipk",
        );
    }

    fn plant_deployment_configs(&mut self) {
        let k = SYNTHETIC_MAKS;
        self.plant_whole(
            "ProgramData/Deploy/Office/configuration.xml",
            Kind::Xml,
            format!(
                "<Configuration>\r\n  <Add OfficeClientEdition=\"64\" Channel=\"PerpetualVL2024\">\r\n    <Product ID=\"ProPlus2024Volume\" PIDKEY=\"{}\">\r\n      <Language ID=\"en-us\" />\r\n    </Product>\r\n  </Add>\r\n</Configuration>\r\n",
                k[4]
            ),
            false,
            k[4],
            "Office Click-to-Run PIDKEY",
        );
        self.plant_whole(
            "ProgramData/Deploy/Control/CustomSettings.ini",
            Kind::Ini,
            format!(
                "[Settings]\r\nPriority=Default\r\n\r\n[Default]\r\nSkipProductKey=YES\r\nOverrideProductKey={}\r\n",
                k[5]
            ),
            false,
            k[5],
            "MDT OverrideProductKey",
        );
    }

    /// One line added to an existing text file of each kind, so the key sits among generated
    /// content rather than in a file of its own.
    fn plant_key_lines(&mut self) {
        let k = SYNTHETIC_MAKS;
        self.plant_line(
            "Windows/Logs/",
            Kind::Log,
            format!("2026-11-02 10:00:00, Info  Setup  ProductKey={}", k[6]),
            k[6],
            "log line, ProductKey=",
        );
        self.plant_line(
            "Windows/WinSxS/",
            Kind::Xml,
            format!("  <ProductKey>{}</ProductKey>", k[7]),
            k[7],
            "XML element deep in WinSxS",
        );
        self.plant_line(
            "Windows/System32/DriverStore/",
            Kind::Inf,
            format!("; key={}", k[8]),
            k[8],
            "INF comment, key=",
        );
        self.plant_line(
            "Program Files/",
            Kind::Txt,
            format!("Product key: {}", k[9]),
            k[9],
            "readme text",
        );
    }

    /// Only `--deep` reads these files.
    fn plant_binary_keys(&mut self) {
        let k = SYNTHETIC_MAKS;
        self.plant_binary("Windows/WinSxS/", &[Kind::Pe], k[0], false, None);
        self.plant_binary("Windows/WinSxS/", &[Kind::Pe], k[1], true, None);
        self.plant_binary("Windows/System32/", &[Kind::Pe], k[2], false, None);
        self.plant_binary("Windows/System32/", &[Kind::Mui], k[3], true, None);
        self.plant_binary("Program Files/", &[Kind::Pe], k[4], true, None);
        self.plant_binary("Windows/servicing/", &[Kind::Catalog], k[5], true, Some(1024));
        // Across the 1 MiB and 4 MiB boundaries, where a chunked reader splits its reads.
        self.plant_binary(
            "Windows/System32/MRT.exe",
            &[Kind::Pe],
            k[6],
            false,
            Some((1 << 20) - 13),
        );
        self.plant_binary(
            "Windows/System32/edgehtml.dll",
            &[Kind::Pe],
            k[7],
            true,
            Some((4 << 20) - 31),
        );
    }
}

fn unattend_shell_setup(key: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\r\n  <settings pass=\"specialize\">\r\n    <component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\" publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\">\r\n      <ComputerName>*</ComputerName>\r\n      <ProductKey>{key}</ProductKey>\r\n    </component>\r\n  </settings>\r\n</unattend>\r\n"
    )
}

fn unattend_user_data(key: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\r\n  <settings pass=\"windowsPE\">\r\n    <component name=\"Microsoft-Windows-Setup\" processorArchitecture=\"amd64\" publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\">\r\n      <UserData>\r\n        <ProductKey>\r\n          <Key>{key}</Key>\r\n          <WillShowUI>OnError</WillShowUI>\r\n        </ProductKey>\r\n        <AcceptEula>true</AcceptEula>\r\n      </UserData>\r\n    </component>\r\n  </settings>\r\n</unattend>\r\n"
    )
}

/// The whole plan for `seed` at `scale` (1.0: about 164k files and 3 GiB).
pub(crate) fn plan(seed: u64, scale: f64) -> Plan {
    let mut builder = Builder {
        rng: Rng::new(seed),
        scale,
        plan: Plan::default(),
        taken: HashSet::new(),
    };
    builder.winsxs();
    builder.system32();
    builder.rest_of_windows();
    builder.programs();
    builder.plant_keys();
    builder.plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_is_deterministic_and_plants_every_key_kind() {
        let a = plan(42, 0.02);
        let b = plan(42, 0.02);
        let paths_a: Vec<&str> = a.files.iter().map(|f| f.path.as_str()).collect();
        let paths_b: Vec<&str> = b.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths_a, paths_b);
        assert_ne!(
            paths_a,
            plan(43, 0.02).files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>()
        );
        assert!(a.planted.iter().filter(|p| p.default_scan).count() >= 8);
        assert!(a.planted.iter().filter(|p| !p.default_scan).count() >= 6);
    }

    #[test]
    fn paths_are_unique_ignoring_case() {
        let p = plan(1, 0.05);
        let mut seen = HashSet::new();
        for f in &p.files {
            assert!(seen.insert(f.path.to_ascii_lowercase()), "duplicate {}", f.path);
        }
    }
}
