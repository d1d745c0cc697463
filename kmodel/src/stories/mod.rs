//! The story catalogue: the scenarios that tell the 2006 debate and what
//! came after, found in `scenarios/` by convention.
//!
//! **Convention.** A story is a file `story_NAME.scenario` (its name is
//! `NAME`) or `explore_NAME.scenario` (a threaded story for `kmodel
//! explore`; its name keeps the prefix: `explore_NAME`). Its narrative is
//! the comment block it opens with (the leading `#` lines, without the
//! `#`); the narrative's first sentence (up to the first `.` that ends a
//! sentence) is its one-line summary. No other marker is needed, so a new
//! story is catalogued as soon as it is in `scenarios/`.
//!
//! [`TOPICS`] lists the claims of the 2006 page and the stories that show
//! each; a topic's stories are matched by name prefix, so a story written
//! later (`story_checkpoint_...`) joins its topic by being named for it.

use std::path::{Path, PathBuf};

/// One story of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Story {
    /// `double_buffer` for `story_double_buffer.scenario`,
    /// `explore_double_buffer_tee` for `explore_double_buffer_tee.scenario`.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The first sentence of the narrative.
    pub summary: String,
    /// The opening comment block, `#` removed, one line per line.
    pub narrative: Vec<String>,
    /// Whether it declares threads (told with `kmodel explore`).
    pub threaded: bool,
}

/// A claim of the 2006 page and the stories that show it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    /// What the claim is.
    pub claim: &'static str,
    /// Story names, or name prefixes ending in `*`, that show it.
    pub stories: &'static [&'static str],
}

/// Every claim of the 2006 page, each with its stories.
pub const TOPICS: &[Topic] = &[
    Topic { claim: "vmsplice feeds user memory into a pipe", stories: &["vmsplice_into_pipe"] },
    Topic {
        claim: "double buffering, and why the buffer must be twice the pipe's capacity",
        stories: &["double_buffer", "explore_double_buffer_one_pipe"],
    },
    Topic {
        claim: "F_GETPSZ and the F_SETPSZ that said EINVAL, next to F_GETPIPE_SZ/F_SETPIPE_SZ",
        stories: &["pipe_size"],
    },
    Topic {
        claim: "another pipe (in series, or a tee) keeps the page",
        stories: &["pipe_in_series", "explore_double_buffer_tee"],
    },
    Topic {
        claim: "TCP keeps the page until the ACK",
        stories: &[
            "tcp_held_until_ack",
            "tcp_wait_reusable",
            "tcp_loss_backoff",
            "tcp_delayed_ack",
            "tcp_refill_before_ack",
        ],
    },
    Topic { claim: "the read side of vmsplice", stories: &["vmsplice_read_side"] },
    Topic { claim: "sendfile rebuilt on splice", stories: &["sendfile_splice", "tcp_sendfile"] },
    Topic {
        claim: "the later answer: release notification and zerocopy completions",
        stories: &["tcp_zerocopy_completion", "explore_double_buffer_wait", "explore_tcp_wait_for_ack"],
    },
    Topic {
        claim: "pathname versus label security",
        stories: &["shadow_bypass", "tmp_label", "copied_binary", "cp_vs_mv", "passwd_rename", "dpath_cost"],
    },
    Topic { claim: "checkpoint and restore", stories: &["*checkpoint*"] },
    Topic { claim: "live migration", stories: &["*migrat*"] },
];

impl Topic {
    /// The stories of `catalogue` that show this topic.
    pub fn matches<'a>(&self, catalogue: &'a [Story]) -> Vec<&'a Story> {
        catalogue.iter().filter(|s| self.stories.iter().any(|pat| name_matches(pat, &s.name))).collect()
    }
}

/// `pat` is a name, `prefix*` or `*infix*`.
fn name_matches(pat: &str, name: &str) -> bool {
    match (pat.strip_prefix('*'), pat.strip_suffix('*')) {
        (Some(inner), _) => name.contains(inner.trim_end_matches('*')),
        (None, Some(prefix)) => name.starts_with(prefix),
        (None, None) => name == pat,
    }
}

/// The directory of the shipped stories: `./scenarios` when it exists,
/// else the source tree's.
pub fn default_dir() -> PathBuf {
    let here = PathBuf::from("scenarios");
    if here.is_dir() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios") }
}

/// Read the catalogue from `dir`: `story_*` first, then `explore_*`, each
/// sorted by name.
///
/// # Errors
/// An unreadable directory or story file, naming it.
pub fn catalogue(dir: &Path) -> Result<Vec<Story>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read the story directory: {e}", dir.display()))?;
    let mut stories = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let Some(stem) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".scenario")) else {
            continue;
        };
        let name = if let Some(n) = stem.strip_prefix("story_") {
            n.to_string()
        } else if stem.starts_with("explore_") {
            stem.to_string()
        } else {
            continue;
        };
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        stories.push(story(name, path, &text));
    }
    stories.sort_by_key(|s| (s.name.starts_with("explore_"), s.name.clone()));
    Ok(stories)
}

/// A story from its name, file and text.
pub fn story(name: String, path: PathBuf, text: &str) -> Story {
    let narrative: Vec<String> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim_start().to_string())
        .collect();
    let threaded = text.lines().any(|l| l.trim_start().starts_with("thread "));
    Story { summary: summary(&narrative), name, path, narrative, threaded }
}

/// The first sentence of a narrative: up to the first `.` followed by a
/// space or the end of a line, the lines joined.
pub fn summary(narrative: &[String]) -> String {
    let mut out = String::new();
    for line in narrative {
        if line.is_empty() {
            if out.is_empty() {
                continue;
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'.' && bytes.get(i + 1).is_none_or(|&c| c == b' ') {
                out.push_str(&line[..=i]);
                return out;
            }
        }
        out.push_str(line);
    }
    out
}

/// The story called `name` (`double_buffer`, `story_double_buffer`, or the
/// file name), or an error listing every name.
///
/// # Errors
/// No such story: the message lists the catalogue.
pub fn find<'a>(catalogue: &'a [Story], name: &str) -> Result<&'a Story, String> {
    let name = name.strip_suffix(".scenario").unwrap_or(name);
    let bare = name.strip_prefix("story_").unwrap_or(name);
    catalogue.iter().find(|s| s.name == bare).ok_or_else(|| {
        let names: Vec<&str> = catalogue.iter().map(|s| s.name.as_str()).collect();
        format!("unknown story '{name}': the stories are {} (kmodel stories lists them)", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn summary_first_sentence_across_lines() {
        let n =
            lines(&["The 2006 story: double buffering, and why \"left the pipe\"", "is not \"free\".", "", "More."]);
        assert_eq!(summary(&n), "The 2006 story: double buffering, and why \"left the pipe\" is not \"free\".");
    }

    #[test]
    fn summary_dot_inside_word_not_an_end() {
        let n = lines(&["Files under /etc/x.conf stay put. Then more."]);
        assert_eq!(summary(&n), "Files under /etc/x.conf stay put.");
    }

    #[test]
    fn story_name_patterns_match() {
        assert!(name_matches("checkpoint*", "checkpoint_pipe"));
        assert!(name_matches("*migrat*", "container_migration"));
        assert!(!name_matches("double_buffer", "double_buffer_x"));
    }

    #[test]
    fn find_unknown_story_lists_names() {
        let c = vec![story("a".into(), "story_a.scenario".into(), "# A.\npipe p\n")];
        assert_eq!(find(&c, "story_a").unwrap().name, "a");
        let e = find(&c, "b").unwrap_err();
        assert!(e.contains("unknown story 'b'") && e.contains("are a"), "{e}");
    }
}
