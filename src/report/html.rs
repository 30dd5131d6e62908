//! Plain HTML pieces with escaping: every text that comes from a file or a spec goes
//! through [`esc`] (text and attribute values alike).

use std::fmt::Write;

/// `text` safe inside an element or a double-quoted attribute.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A file name as a relative link: percent-encoded where a URL needs it (`#`, `?`, `%`,
/// spaces), then escaped for the attribute.
pub fn href(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Styles of every page: readable on a phone (one column, wide tables scroll on their
/// own), no fonts or files from elsewhere.
const STYLE: &str = "
:root{color-scheme:light dark;--fg:#1b1b1b;--bg:#fff;--muted:#5c5c5c;--line:#d6d6d6;--soft:#f3f4f6;--link:#0645ad}
@media (prefers-color-scheme:dark){:root{--fg:#e6e6e6;--bg:#141414;--muted:#a8a8a8;--line:#3a3a3a;--soft:#1f2226;--link:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
main{max-width:70rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.2rem 0;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line)}
a{color:var(--link)}
.muted{color:var(--muted)}
.status{display:inline-block;padding:.15rem .6rem;border-radius:.3rem;font-weight:600;color:#fff}
.status-complete{background:#1f7a3a}.status-interrupted{background:#a05a00}
.status-diverged,.status-failed,.status-killed{background:#b3261e}.status-other{background:#555}
.error{border-left:4px solid #b3261e;background:var(--soft);padding:.5rem .8rem;margin:.8rem 0}
.error pre{margin:.3rem 0 0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--soft);padding:.6rem;border-radius:.3rem;font-size:.85rem}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:var(--soft)}
.facts th{width:12rem}
figure{margin:1rem 0 2rem}
img{max-width:100%;height:auto;display:block;border:1px solid var(--line)}
figcaption{font-size:.9rem;margin-top:.3rem}
code{font-size:.9em}
details{margin:.6rem 0}
summary{cursor:pointer;font-weight:600}
ul.files{padding-left:1.2rem}
.facts code{word-break:break-all}
";

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        esc(title)
    )
}

/// The coloured status badge.
pub fn status_badge(status: &str) -> String {
    let class = match status {
        "complete" | "interrupted" | "diverged" | "failed" | "killed" => status,
        _ => "other",
    };
    format!("<span class=\"status status-{class}\" id=\"status\">{}</span>", esc(status))
}

/// A two-column table of facts (`key`, already-escaped HTML value).
pub fn facts_table(rows: &[(String, String)]) -> String {
    let mut out = String::from("<div class=\"scroll\"><table class=\"facts\">\n");
    for (k, v) in rows {
        let _ = writeln!(out, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    out.push_str("</table></div>\n");
    out
}

/// A `<details>` holding preformatted text.
pub fn details_pre(summary: &str, text: &str, open: bool, id: &str) -> String {
    format!(
        "<details{} id=\"{id}\"><summary>{}</summary>\n<pre>{}</pre>\n</details>\n",
        if open { " open" } else { "" },
        esc(summary),
        esc(text)
    )
}

/// Width and height from a PNG's header, when `bytes` start like one.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((w, h))
}

/// A human size: 532 B, 14.2 kB, 3.1 MB.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1000 => format!("{b} B"),
        b if b < 1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{:.1} MB", b as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_links_are_escaped() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(href("a b#1.png"), "a%20b%231.png");
        assert_eq!(href("runs/ab12/index.html"), "runs/ab12/index.html");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(14_200), "14.2 kB");
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend([0, 0, 2, 128, 0, 0, 1, 224]);
        assert_eq!(png_size(&png), Some((640, 480)));
        assert_eq!(png_size(b"GIF89a"), None);
    }
}
