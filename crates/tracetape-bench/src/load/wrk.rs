//! `wrk`: its command line, the Lua script that makes it post JSON, and
//! its summary read back.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::{LoadResult, Target};

/// wrk's arguments for one run.
pub(super) fn args(port: u16, target: &Target, connections: u32, seconds: u64) -> Vec<String> {
    let mut args = vec![
        "-t1".to_owned(),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        "--latency".to_owned(),
    ];
    let path = match target {
        Target::Hello => "/hello",
        Target::Json { script, .. } => {
            args.push("-s".to_owned());
            args.push(script.to_string_lossy().into_owned());
            "/echo"
        }
    };
    args.push(format!("http://127.0.0.1:{port}{path}"));
    args
}

/// A wrk script that sends every request as `POST` with the contents of
/// `body` as a JSON body. The file is read once, when wrk starts.
pub(super) fn post_json_script(body: &Path) -> String {
    format!(
        "-- Written by tracetape-bench: POST the JSON body in the file below.\n\
         local file = assert(io.open(\"{}\", \"rb\"))\n\
         wrk.method = \"POST\"\n\
         wrk.body = file:read(\"*a\")\n\
         file:close()\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n",
        lua_escape(body.as_os_str().as_encoded_bytes())
    )
}

/// `bytes` as the inside of a Lua string literal: every byte a decimal
/// escape, so no path can break out of it.
fn lua_escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 4);
    for byte in bytes {
        let _ = write!(out, "\\{byte:03}");
    }
    out
}

/// A wrk duration such as `812.00us`, `1.25ms`, `10.00s` or `1.00m`, in
/// milliseconds.
fn parse_time(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(value * factor)
}

/// Reads wrk's summary: `Requests/sec:`, `N requests in T`, the latency
/// distribution, and the error lines.
pub(super) fn parse(out: &str) -> anyhow::Result<LoadResult> {
    let mut result = LoadResult::default();
    let mut rps = None;
    let mut non_2xx = 0;
    for line in out.lines() {
        let line = line.trim();
        let mut words = line.split_whitespace();
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            rps = Some(rest.trim().parse::<f64>().context("Requests/sec")?);
        } else if line.contains(" requests in ") {
            let requests = words.next().context("request count")?;
            result.requests = requests.parse().context("request count")?;
            let time = words.nth(2).context("run time")?.trim_end_matches(',');
            result.seconds = parse_time(time).context("run time")? / 1000.0;
        } else if let Some(rest) = line.strip_prefix("Latency ") {
            // "Latency  1.02ms  310.12us  9.87ms  90.00%": avg, stdev, max
            // (not "Latency Distribution").
            if let Some(max) = rest.split_whitespace().nth(2).and_then(parse_time) {
                result.max_ms = Some(max);
            }
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in rest.split(',') {
                if let Some(n) = part.split_whitespace().nth(1) {
                    result.errors += n.parse::<u64>().context("socket errors")?;
                }
            }
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = rest.trim().parse::<u64>().context("non-2xx count")?;
        } else if let (Some(pct), Some(time), None) = (words.next(), words.next(), words.next()) {
            match pct {
                "50%" => result.p50_ms = parse_time(time),
                "99%" => result.p99_ms = parse_time(time),
                _ => {}
            }
        }
    }
    result.rps = rps.context("no \"Requests/sec:\" line")?;
    // wrk counts non-2xx responses in its total; report successes only.
    result.requests = result.requests.saturating_sub(non_2xx);
    result.errors += non_2xx;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const WRK: &str = "\
Running 5s test @ http://127.0.0.1:40000/hello
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  310.12us   9.87ms   90.00%
    Req/Sec    31.50k     1.20k   33.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.40ms
     99%    2.50ms
  156789 requests in 5.00s, 19.14MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  31357.80
Transfer/sec:      3.83MB
";

    #[test]
    fn parses_wrk() -> anyhow::Result<()> {
        let r = parse(WRK)?;
        assert!((r.rps - 31357.80).abs() < 1e-6);
        assert_eq!(r.requests, 156789 - 4);
        assert_eq!(r.errors, 7);
        assert!((r.seconds - 5.0).abs() < 1e-9);
        assert_eq!(r.p50_ms, Some(0.812));
        assert_eq!(r.p99_ms, Some(2.5));
        assert_eq!(r.max_ms, Some(9.87));
        Ok(())
    }

    #[test]
    fn parses_wrk_times() {
        assert_eq!(parse_time("10.00s"), Some(10_000.0));
        assert_eq!(parse_time("1.00m"), Some(60_000.0));
        assert_eq!(parse_time("bogus"), None);
    }

    #[test]
    fn rejects_wrk_without_rate() {
        assert!(parse("Running 5s test\n").is_err());
    }

    #[test]
    fn json_target_posts_through_a_script() {
        let target = Target::Json {
            body: PathBuf::from("/t/b.json"),
            script: PathBuf::from("/t/b.lua"),
        };
        assert_eq!(
            args(4242, &target, 8, 5),
            [
                "-t1",
                "-c8",
                "-d5s",
                "--latency",
                "-s",
                "/t/b.lua",
                "http://127.0.0.1:4242/echo"
            ]
        );
        assert_eq!(
            args(4242, &Target::Hello, 32, 5).last().map(String::as_str),
            Some("http://127.0.0.1:4242/hello")
        );
    }

    #[test]
    fn script_escapes_the_body_path() {
        let script = post_json_script(Path::new("/a\"b"));
        // '/' 'a' '"' 'b', each a decimal escape.
        assert!(
            script.contains(r#"io.open("\047\097\034\098", "rb")"#),
            "{script}"
        );
        assert!(script.contains("wrk.method = \"POST\""));
        assert!(script.contains("wrk.headers[\"Content-Type\"] = \"application/json\""));
    }
}
