//! The explorer on the threaded stories: it finds the double-buffer hazard
//! with a tee in series, proves the release-notification version safe
//! under its bound, and reports the opposite-splice deadlock.

use std::path::PathBuf;

use kmodel::explore::{ExploreConfig, Violation, explore, replay_text, run_schedule, schedule_names};
use kmodel::scenario::{self, Scenario};

fn story(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(format!("{name}.scenario"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    scenario::parse(name, &text).unwrap_or_else(|e| panic!("{e}"))
}

fn exhaustive(bound: usize) -> ExploreConfig {
    ExploreConfig { bound, ..ExploreConfig::default() }
}

#[test]
fn double_buffer_with_tee_has_a_hazard_within_a_dozen_steps() {
    let sc = story("explore_double_buffer_tee");
    let summary = explore(&sc, &exhaustive(2), &mut |_| {}).unwrap();
    let finding = summary.finding.expect("the tee hazard must be found");
    let Violation::Hazard { step, detail } = &finding.violation else {
        panic!("got {:?}, want a hazard", finding.violation);
    };
    assert_eq!(sc.steps[*step].text, "fill buf[0..1p] 'C'");
    assert!(detail.contains("pipe log"), "{detail}");
    let names = schedule_names(&sc, &finding.violation, &finding.trace);
    assert!(names.len() <= 12, "schedule of {} steps: {names:?}", names.len());
    // The reported schedule reproduces the hazard, and so does its replay.
    let again = run_schedule(&sc, &exhaustive(2), &names).unwrap();
    assert_eq!(again.violation, Some(finding.violation.clone()));
    let replay = scenario::parse("replay", &replay_text(&sc, &finding.violation, &finding.trace)).unwrap();
    assert!(replay.threads.is_empty());
    let text = replay_text(&sc, &finding.violation, &finding.trace);
    let view = kmodel::render::record(&replay, &text, Default::default()).unwrap();
    assert!(view.steps.last().unwrap().hazard.is_some(), "the replay ends in the hazard");
    let last = view.steps.len() - 1;
    let marked: Vec<&str> = view
        .lanes
        .iter()
        .filter(|l| l.marks.iter().any(|m| m.kind == kmodel::render::MarkKind::Hazard && m.step == last))
        .map(|l| l.label.as_str())
        .collect();
    assert_eq!(marked, ["buf page 0"], "the replay's chart marks the hazard on the page pipe log holds");
}

#[test]
fn double_buffer_waiting_for_release_is_safe_under_bound_2() {
    let sc = story("explore_double_buffer_wait");
    let summary = explore(&sc, &exhaustive(2), &mut |_| {}).unwrap();
    assert!(summary.finding.is_none(), "{:?}", summary.finding);
    assert!(summary.complete);
    // States entered, not schedules: the state cache merges most schedules.
    assert!(summary.progress.states > 100, "explored {} states", summary.progress.states);
}

#[test]
fn double_buffer_into_one_pipe_is_safe_as_pitched() {
    let sc = story("explore_double_buffer_one_pipe");
    let summary = explore(&sc, &exhaustive(2), &mut |_| {}).unwrap();
    assert!(summary.finding.is_none(), "{:?}", summary.finding);
    assert!(summary.complete && summary.progress.states > 10);
}

#[test]
fn the_safe_version_is_unsafe_without_its_wait() {
    // Remove the wait line: the explorer must find the hazard again, so
    // the proof above is not vacuous.
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/explore_double_buffer_wait.scenario"),
    )
    .unwrap();
    let without: String = text.lines().filter(|l| !l.starts_with("wait reusable")).collect::<Vec<_>>().join("\n");
    let sc = scenario::parse("no_wait", &without).unwrap();
    let summary = explore(&sc, &exhaustive(2), &mut |_| {}).unwrap();
    assert!(matches!(summary.finding.map(|f| f.violation), Some(Violation::Hazard { .. })));
}

#[test]
fn opposite_splices_deadlock() {
    let sc = story("explore_opposite_splices");
    let summary = explore(&sc, &exhaustive(2), &mut |_| {}).unwrap();
    let f = summary.finding.expect("deadlock");
    let Violation::Deadlock { waiting } = &f.violation else { panic!("got {:?}", f.violation) };
    assert_eq!(waiting.len(), 2);
}

#[test]
fn random_schedules_find_the_hazard_too() {
    let sc = story("explore_double_buffer_tee");
    let config = ExploreConfig { random: Some((200, 7)), ..ExploreConfig::default() };
    let summary = explore(&sc, &config, &mut |_| {}).unwrap();
    assert!(matches!(summary.finding.map(|f| f.violation), Some(Violation::Hazard { .. })));
}

#[test]
fn wait_reusable_answers_edeadlk_when_nothing_can_release() {
    let sc = scenario::parse(
        "t",
        "buffer b 1\npipe p\nfill b 'a'\nvmsplice p.w b\nthread t\nwait reusable b\nclose p.w\nend\n",
    )
    .unwrap();
    let mut model = kmodel::model::ModelBackend::new(Default::default());
    let report = scenario::run(&sc, &mut model, |_| {}).unwrap();
    assert_eq!(report.lines[4].to_string(), "6: wait reusable b => -EDEADLK");
    assert_eq!(report.exit_status(), 0);
}

#[test]
fn bad_inputs_are_clear_errors() {
    for (text, want) in [
        ("pipe p\nthread a\nthread b\nend\n", "thread inside thread 'a'"),
        ("pipe p\nthread a\nread p.r 1\n", "thread 'a' has no 'end'"),
        ("pipe p\nend\n", "'end' without"),
        ("pipe p\nthread a\nend\npipe q\n", "objects are declared before the first thread"),
        ("pipe p\nthread a\nend\nthread a\nend\n", "already declared"),
        ("buffer b 1\nwait busy b\n", "expected 'reusable'"),
    ] {
        let e = scenario::parse("bad", text).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: got {e}, want {want}");
    }
    let sc = story("explore_double_buffer_tee");
    let e = run_schedule(&sc, &exhaustive(2), &["producer".into(), "nobody".into()]).unwrap_err();
    assert!(e.0.contains("unknown thread 'nobody'"), "{e}");
    let e = explore(&sc, &exhaustive(99), &mut |_| {}).unwrap_err();
    assert!(e.0.contains("out of range"), "{e}");
    let single = scenario::parse("s", "pipe p\n").unwrap();
    assert!(explore(&single, &exhaustive(2), &mut |_| {}).unwrap_err().0.contains("no threads"));
}

// State caching must not change a verdict.

/// Explore `sc` with and without the state cache under `bound`; the
/// verdicts must agree: a violation iff one, the same one, equally short,
/// and both searches complete. Answers the two summaries.
fn same_verdict(sc: &Scenario, bound: usize) -> (kmodel::explore::Summary, kmodel::explore::Summary) {
    let on = explore(sc, &exhaustive(bound), &mut |_| {}).unwrap();
    let off = explore(sc, &ExploreConfig { reduction: false, ..exhaustive(bound) }, &mut |_| {}).unwrap();
    let what = |s: &kmodel::explore::Summary| s.finding.as_ref().map(|f| (f.violation.clone(), f.trace.len()));
    assert_eq!(what(&on), what(&off), "{}: bound {bound}: verdict with the cache vs without", sc.path);
    assert_eq!(on.complete, off.complete, "{}", sc.path);
    assert_eq!(off.progress.pruned, 0);
    (on, off)
}

#[test]
fn every_explore_story_same_verdict_with_and_without_state_cache() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().to_string();
            Some(name.strip_prefix("explore_")?.strip_suffix(".scenario")?.to_string())
        })
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        let sc = story(&format!("explore_{name}"));
        // Bound 2 unreduced takes seconds for the safe double buffer: bound
        // 1 there, bound 2 for the rest.
        let bound = if name == "double_buffer_wait" { 1 } else { 2 };
        let (on, off) = same_verdict(&sc, bound);
        assert!(on.progress.states <= off.progress.states, "{name}: the cache never adds states");
    }
}

/// A small random threaded scenario: a two-page buffer, pipes `p` and `q`
/// (`p` one or two pages), two or three threads of one or two steps among
/// stores, vmsplice, write, read, splice, tee (some nonblocking) and `wait
/// reusable`.
fn random_threaded(seed: u64) -> String {
    let mut rng = tests::Rng::new(seed);
    let mut text = String::from("buffer buf 2\npipe p\npipe q\n");
    let slots = rng.range(1, 3);
    text.push_str(&format!("fcntl p.w setpipe_sz {}\n", slots * 4096));
    let ops = [
        "fill buf[0..1p] 'X'",
        "fill buf[1p..2p] 'Y'",
        "vmsplice p.w buf[0..1p]",
        "vmsplice p.w buf[1p..2p]",
        "write p.w 10 'a'",
        "write q.w 10 'b'",
        "read p.r 1p",
        "read p.r 1p nonblock",
        "read q.r 1p nonblock",
        "splice p.r q.w 4096",
        "splice p.r q.w 4096 nonblock",
        "tee p.r q.w 1p nonblock",
        "wait reusable buf[0..1p]",
    ];
    for t in 0..rng.range(2, 4) {
        text.push_str(&format!("thread t{t}\n"));
        for _ in 0..rng.range(1, 3) {
            text.push_str(rng.pick(&ops));
            text.push('\n');
        }
        text.push_str("end\n");
    }
    text
}

#[test]
fn random_threaded_scenarios_same_verdict_with_and_without_state_cache() {
    const SEEDS: u64 = 60;
    let (mut violations, mut pruned) = (0u64, 0);
    for seed in 0..SEEDS {
        let text = random_threaded(seed);
        let sc = scenario::parse(&format!("random-{seed}"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let (on, _) = same_verdict(&sc, 2);
        violations += u64::from(on.finding.is_some());
        pruned += on.progress.pruned;
    }
    // The property means something only if both outcomes occur and the
    // cache prunes.
    assert!((SEEDS / 10..SEEDS * 9 / 10).contains(&violations), "{violations} of {SEEDS} scenarios had a violation");
    assert!(pruned > 0);
}
