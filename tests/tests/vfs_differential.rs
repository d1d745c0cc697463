//! Random name-operation scenarios on the model and on the host kernel:
//! every line both run must agree (the host kernel is the oracle). The
//! operations are the ones the Linux runner runs for real, over a small
//! set of names so that they collide: nested directories, `..`, symlinks
//! (absolute, relative, looping), trailing slashes, hard links, renames of
//! directories into their own subtrees, bind mounts, private namespaces,
//! chroot, chdir, an unprivileged uid, and files opened, written, read and
//! truncated through their descriptors.

#![cfg(target_os = "linux")]

use std::time::Duration;

use kmodel::kernel::KernelConfig;
use kmodel::linux::{LinuxBackend, LinuxOptions};
use kmodel::model::ModelBackend;
use kmodel::scenario::{self, Report};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

const PATHS: [&str; 16] = [
    "/a", "/a/b", "/a/b/c", "/d", "/d/e", "/a/../d", "/l", "/l/x", "/a/b/", "/m", "/m/b", "x", "../a", "/", "/a/.",
    "/d/l2",
];

#[derive(Clone, Debug)]
struct Line(String);

impl Arbitrary for Line {
    fn arbitrary(g: &mut Gen) -> Self {
        let p = |g: &mut Gen| *g.choose(&PATHS).expect("paths");
        let text = match u8::arbitrary(g) % 22 {
            0 | 1 => format!("mkdir {}", p(g)),
            2 | 3 => format!("create {}", p(g)),
            4 => format!("link {} {}", p(g), p(g)),
            5 => format!("symlink {} {}", p(g), p(g)),
            6 | 7 => format!("rename {} {}", p(g), p(g)),
            8 => format!("unlink {}", p(g)),
            9 => format!("rmdir {}", p(g)),
            10 => format!("stat {}", p(g)),
            11 => format!("chmod {} {}", p(g), g.choose(&["700", "755", "1777", "0"]).expect("modes")),
            12 => format!("truncate {} {}", p(g), g.choose(&["0", "100", "5000"]).expect("sizes")),
            13 => format!("chdir {}", p(g)),
            14 => format!("chroot {}", p(g)),
            15 => format!("bind {} {}", p(g), p(g)),
            16 => "unshare mount".into(),
            17 => "setuid 1000 1000".into(),
            18 => format!("chown {} 1000 1000", p(g)),
            19 => format!("open o{} {} {}", u8::arbitrary(g) % 4, p(g), g.choose(&["r", "w", "rw"]).expect("modes")),
            _ => format!("symlink {} {}", g.choose(&["l2", "../d", "/l", "nowhere"]).expect("targets"), p(g)),
        };
        Line(text)
    }
}

/// The lines both backends ran, as printed.
fn compared(r: &Report) -> Vec<String> {
    r.lines.iter().filter(|l| !l.model_only).map(ToString::to_string).collect()
}

fn prop(lines: Vec<Line>) -> TestResult {
    // Each `open` name may be declared once: keep the first of each.
    let mut seen = std::collections::HashSet::new();
    let mut text = String::new();
    for Line(l) in &lines {
        if let Some(name) = l.strip_prefix("open ").and_then(|r| r.split(' ').next())
            && !seen.insert(name.to_owned())
        {
            continue;
        }
        text.push_str(l);
        text.push('\n');
    }
    // Use the descriptors that were opened.
    for name in &seen {
        text.push_str(&format!("write {name} 10 'w'\nread {name} 20\n"));
    }
    let sc = match scenario::parse("random.scenario", &text) {
        Ok(s) => s,
        Err(e) => panic!("generated scenario does not parse: {e}\n{text}"),
    };
    let model = scenario::run(&sc, &mut ModelBackend::new(kmodel::cli::host_config()), |_| {}).expect("model runs");
    let options = LinuxOptions { block_timeout: Duration::from_millis(500), ..Default::default() };
    let mut lb = LinuxBackend::new(options).expect("linux backend");
    let linux = scenario::run(&sc, &mut lb, |_| {}).expect("linux runs");
    let (m, l) = (compared(&model), compared(&linux));
    if m != l {
        let diff: Vec<String> =
            m.iter().zip(&l).filter(|(a, b)| a != b).map(|(a, b)| format!("  model: {a}\n  linux: {b}")).collect();
        eprintln!("scenario:\n{text}\ndifferences:\n{}", diff.join("\n"));
        return TestResult::failed();
    }
    TestResult::passed()
}

#[test]
fn random_name_scenarios_agree_with_linux() {
    let _ = KernelConfig::default();
    QuickCheck::new().tests(300).rng(Gen::new(60)).quickcheck(prop as fn(Vec<Line>) -> TestResult);
}
