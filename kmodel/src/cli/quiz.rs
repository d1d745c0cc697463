//! `kmodel quiz`: a generated exercise, its answers from the model.

use std::process::ExitCode;

use crate::kernel::{KernelConfig, KernelVariant};
use crate::quiz::{self, QuizTopic};

use super::EXIT_BACKEND;

#[derive(Debug, clap::Args)]
pub(super) struct QuizArgs {
    /// The seed: the same seed and topic give the same quiz everywhere
    /// (default: drawn from the clock, and printed).
    #[arg(long)]
    seed: Option<u64>,
    /// What the quiz is about: pipes, tee, tcp or lsm.
    #[arg(long, default_value = "pipes")]
    topic: QuizTopic,
    /// Print the answers, with the reasons (each page's holders).
    #[arg(long)]
    answers: bool,
    /// Show the final state and ask which operations produced it.
    #[arg(long)]
    reverse: bool,
    /// Which kernel answers: today, 2006 or copy.
    #[arg(long, default_value = "today")]
    kernel: KernelVariant,
}

pub(super) fn cmd_quiz(args: &QuizArgs) -> ExitCode {
    let seed = args.seed.unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        now.as_secs() % 100_000
    });
    if args.reverse && args.topic == QuizTopic::Lsm {
        eprintln!("kmodel: --reverse asks for the operations behind pipes and pages: use --topic pipes, tee or tcp");
        return ExitCode::from(super::EXIT_BAD_INPUT);
    }
    let q = quiz::generate(seed, args.topic);
    let answers = match q.answer(KernelConfig { variant: args.kernel, ..KernelConfig::default() }) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kmodel: quiz seed {seed} topic {}: {e}", args.topic.name());
            return ExitCode::from(EXIT_BACKEND);
        }
    };
    out!("{}", quiz::question(&q, &answers, args.reverse));
    if args.answers {
        outln!();
        out!("{}", quiz::answer_text(&q, &answers, args.reverse));
    } else {
        outln!();
        outln!(
            "Answers: kmodel quiz --seed {seed} --topic {}{} --answers",
            args.topic.name(),
            if args.reverse { " --reverse" } else { "" }
        );
    }
    ExitCode::SUCCESS
}
