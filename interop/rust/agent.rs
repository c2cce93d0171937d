//! A device agent process (`interop_device` or the official SDK's `device_agent.py`) driven
//! over its stdin and stdout.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// How long an agent may take beyond a command's own timeout before its step fails.
const REPLY_GRACE: Duration = Duration::from_secs(30);

/// A running device agent.
pub(crate) struct Agent {
    pair: String,
    child: Child,
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<String>,
}

impl Agent {
    /// Starts `command` (program and arguments).
    pub(crate) fn spawn(pair: &str, command: &[String]) -> Result<Self, String> {
        let (program, arguments) = command.split_first().ok_or("no device agent command")?;
        let mut child = Command::new(program)
            .args(arguments)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {program}: {e}"))?;
        let stdout = child.stdout.take().ok_or("the agent has no stdout")?;
        let (sender, replies) = mpsc::channel(16);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            pair: pair.to_owned(),
            stdin: child.stdin.take(),
            child,
            replies,
        })
    }

    /// Asks the agent to run `op` as `step` with `arguments` (a JSON object), prints the
    /// agent's result line (or a failure of our own when it says nothing in time) and returns
    /// whether the step passed.
    pub(crate) async fn step(&mut self, step: &str, op: &str, arguments: Value) -> bool {
        let mut command = arguments;
        command["step"] = json!(step);
        command["op"] = json!(op);
        let wait = Duration::from_secs(command["timeout"].as_u64().unwrap_or(0)) + REPLY_GRACE;
        let sent = self.stdin.as_mut().is_some_and(|stdin| {
            writeln!(stdin, "{command}")
                .and_then(|()| stdin.flush())
                .is_ok()
        });
        let reply = match (sent, timeout(wait, self.replies.recv()).await) {
            (false, _) => format!("FAIL {} {step}: the device agent has exited", self.pair),
            (true, Ok(Some(line))) => line,
            (true, _) => format!("FAIL {} {step}: no answer from the device agent", self.pair),
        };
        // Standard output is the result channel; without it there is no one to tell.
        let _ = writeln!(std::io::stdout().lock(), "{reply}");
        reply.starts_with("PASS ")
    }

    /// Asks the agent to quit and waits for it, at most 15 s; kills it after that.
    pub(crate) async fn close(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "{}", json!({"step": "quit", "op": "quit"}));
        }
        for _ in 0..150 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
