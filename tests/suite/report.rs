//! The report page (index.html) of run and sweep folders, opened in headless Chromium.

use crate::common::browser::{file_url, Browser};
use std::time::Duration;

/// The harness itself: it sees images load, a missing image, console errors and
/// uncaught exceptions, evaluates JavaScript and saves a screenshot.
#[test]
fn browser_harness_reports_what_the_page_does() {
    let Some(mut b) = Browser::launch("report::browser_harness_reports_what_the_page_does") else { return };
    let dir = tempfile::tempdir().unwrap();
    // A 1x1 PNG.
    let png: [u8; 67] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00,
        0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D,
        0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    std::fs::write(dir.path().join("dot.png"), png).unwrap();
    std::fs::write(
        dir.path().join("good.html"),
        "<!doctype html><title>t</title><img src=\"dot.png\"><p id=p>hello</p>",
    )
    .unwrap();
    b.open(&file_url(&dir.path().join("good.html")));
    assert_eq!(b.eval("document.getElementById('p').textContent").unwrap(), "hello");
    assert_eq!(b.eval("[...document.images].filter(i => i.naturalWidth > 0).length").unwrap(), 1);
    assert!(b.errors().is_empty(), "{:?}", b.errors());

    let bad = "<!doctype html><title>t</title><img src=\"missing.png\"><script>console.error('boom'); \
               setTimeout(() => { document.title = 'later' }, 200); null.x;</script>";
    std::fs::write(dir.path().join("bad.html"), bad).unwrap();
    b.open(&file_url(&dir.path().join("bad.html")));
    assert_eq!(b.wait_for("document.title === 'later'", Duration::from_secs(5)), Some(true.into()));
    let errors = b.errors();
    assert!(errors.iter().any(|e| e.contains("boom")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("TypeError")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("missing.png")), "{errors:?}");
    assert!(b.eval("nosuchname").is_err());

    let shot = dir.path().join("shot.png");
    b.screenshot(&shot);
    let bytes = std::fs::read(&shot).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}
