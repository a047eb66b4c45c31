//! Item 12: the Work Diary's minute headings, the segment in progress, the
//! day's total while tracking, the full screenshot, and pictures that stay
//! through an upload.

use super::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/screens/desktop-1920x1080.jpg"
);

/// The fixture screenshot (1920×1080) and a 320-pixel thumbnail of it, as
/// the capture makes them.
fn screenshot_and_thumbnail() -> (Vec<u8>, Vec<u8>) {
    let jpeg = std::fs::read(FIXTURE).unwrap();
    let small = image::load_from_memory(&jpeg).unwrap().thumbnail(320, 180);
    let mut thumbnail = Vec::new();
    small
        .to_rgb8()
        .write_to(
            &mut std::io::Cursor::new(&mut thumbnail),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    (jpeg, thumbnail)
}

/// A screen that always shows the fixture.
struct FixtureScreen;

impl timecard_client::capture::ScreenSource for FixtureScreen {
    fn capture(
        &mut self,
    ) -> Result<Option<timecard_client::capture::Captured>, timecard_client::capture::CaptureError>
    {
        let (jpeg, thumbnail) = screenshot_and_thumbnail();
        Ok(Some(timecard_client::capture::Captured {
            jpeg,
            thumbnail,
            width: 1920,
            height: 1080,
        }))
    }
}

fn open_with_screen() -> Window {
    let settings = Settings {
        time_zone: Some("UTC".into()),
        ..Settings::default()
    };
    open_with_sources(
        settings,
        |_| {},
        Box::new(FixtureScreen),
        Box::new(NoActivity),
    )
}

fn diary_loaded(app: &TimecardApp) -> bool {
    matches!(app.state.diary.day(), Some(Ok(_)))
}

/// Steps the window until a widget labelled `label` shows (the full
/// screenshot arrives by the sync thread, not in a snapshot), with a
/// deadline.
pub(super) fn until_shown(w: &mut Window, label: &str) -> egui::Rect {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        w.harness.step();
        if w.harness.query_by_label(label).is_some() {
            // An anchored window settles its place over a couple of frames.
            w.harness.step();
            w.harness.step();
            return w.harness.get_by_label(label).rect();
        }
        assert!(Instant::now() < deadline, "timed out waiting for {label:?}");
        w.harness
            .state()
            .wait_for_worker(StdDuration::from_millis(50));
    }
}

// Item 12: the columns have their minutes above them.
#[test]
fn the_diary_columns_have_minute_headings() {
    let mut w = open();
    w.click("Work Diary");
    let xs: Vec<f32> = [":00", ":10", ":20", ":30", ":40", ":50"]
        .iter()
        .map(|m| w.harness.get_by_label(m).rect().center().x)
        .collect();
    assert!(xs.windows(2).all(|p| p[0] < p[1]), "in order: {xs:?}");
}

// Item 11: the day buttons stayed next to the date text and moved when its
// width changed (Wednesday → Tuesday); the date has a fixed width now.
#[test]
fn the_day_buttons_stay_put_from_one_day_to_the_next() {
    let mut w = open();
    w.click("Work Diary");
    w.harness.get_by_label("Wednesday 25 November 2026");
    let before = w.harness.get_by_label("Next day").rect();
    w.click("Previous day");
    w.harness.get_by_label("Tuesday 24 November 2026");
    let after = w.harness.get_by_label("Next day").rect();
    assert_eq!(before, after, "Next day moved");
}

// Item 12, B1: the segment being recorded shows, marked as in progress;
// the day's total is what the server bills, and the time not uploaded yet
// is on a line of its own, so that the two together are the Tracker's
// today (it said 0:00:04 while the Tracker said 0:00:39).
#[test]
fn the_segment_in_progress_shows_and_counts_like_the_tracker() {
    let mut w = open();
    w.click("Start");
    w.until("tracking", |app| tracking(app).is_some());
    w.clock.advance(Duration::minutes(3));
    w.click("Work Diary");
    w.until("the diary", diary_loaded);
    w.harness
        .get_by_label("Segment 15:00–15:03, Backend development, in progress");
    w.harness.get_by_label("Day total 0:00:00");
    w.harness
        .get_by_label("0:03:00 not uploaded yet — Backend development 0:03:00");

    // 15:12: the 15:00–15:10 segment is cut, cached and uploaded.
    w.clock.advance(Duration::minutes(9));
    let engine = w.harness.state().engine().unwrap();
    engine.worker.send(timecard_client::worker::Command::Tick);
    w.until("the first segment uploaded and listed", |app| {
        let s = app.latest();
        s.cache.pending.is_empty()
            && matches!(app.state.diary.day(), Some(Ok(d)) if d.segments.len() == 1)
    });
    w.harness
        .get_by_label("Segment 15:00–15:10, Backend development");
    w.harness
        .get_by_label("Segment 15:10–15:12, Backend development, in progress");
    w.harness
        .get_by_label("Day total 0:10:00 — Backend development 0:10:00");
    w.harness
        .get_by_label("0:02:00 not uploaded yet — Backend development 0:02:00");
    let now = w.clock.now();
    assert_eq!(w.harness.state().latest().today_total_secs(now), 12 * 60);
}

// Item 12: the segment window showed the 320-pixel thumbnail as its "larger"
// picture; it fetches the full screenshot and fits it to the window.
#[test]
fn the_segment_window_shows_the_full_screenshot() {
    let mut w = open();
    let (jpeg, thumbnail) = screenshot_and_thumbnail();
    w.upload_from_another_device(
        at("2026-11-25T09:00:00Z"),
        Some(timecard_core::domain::Screenshot {
            taken_at: at("2026-11-25T09:04:00Z"),
            jpeg,
            thumbnail,
        }),
    );
    w.click("Work Diary");
    w.until(
        "the diary",
        |app| matches!(app.state.diary.day(), Some(Ok(d)) if !d.segments.is_empty()),
    );
    w.open_segment("Segment 09:00–09:10, Backend development");
    let shown = until_shown(&mut w, "The segment's screenshot");
    assert!(
        shown.width() > 600.0,
        "the picture is shown large in a 900-pixel window: {shown:?}"
    );
    assert!(shown.max.x <= 900.0 && shown.max.y <= 900.0, "{shown:?}");
}

// Item 12: a segment still in the cache (offline) has its full screenshot
// in its cache file.
#[test]
fn a_cached_segment_shows_its_full_screenshot_offline() {
    let (jpeg, thumbnail) = screenshot_and_thumbnail();
    let segment = timecard_core::domain::Segment {
        id: timecard_core::domain::SegmentId::random(),
        contract_id: "demo-hourly".into(),
        device_id: "this-device".into(),
        start: at("2026-11-25T09:00:00Z"),
        end: at("2026-11-25T09:10:00Z"),
        memo: String::new(),
        activity: timecard_core::domain::Activity(0b11),
        screenshot: Some(timecard_core::domain::Screenshot {
            taken_at: at("2026-11-25T09:04:00Z"),
            jpeg,
            thumbnail,
        }),
        capture_note: None,
    };
    let settings = Settings {
        time_zone: Some("UTC".into()),
        server: Some("https://127.0.0.1:9".into()),
        ..Settings::default()
    };
    let mut w = open_with(settings, move |data| {
        save_demo_contracts(data);
        let (mut cache, _) =
            timecard_client::cache::Cache::open(&data.cache_dir(), 24 * 3600).unwrap();
        cache.append(&segment).unwrap();
    });
    w.click("Work Diary");
    w.until("the cached segment", |app| {
        !app.latest().cache.pending.is_empty()
    });
    w.open_segment("Segment 09:00–09:10, Backend development, cached");
    let shown = until_shown(&mut w, "The segment's screenshot");
    assert!(shown.width() > 600.0, "{shown:?}");
}

// Item 12: a segment with neither a picture nor a capture note says why
// there is none, in its cell and in its window.
#[test]
fn a_segment_without_a_screenshot_says_why() {
    let mut w = open();
    w.upload_from_another_device(at("2026-11-25T09:00:00Z"), None);
    w.click("Work Diary");
    w.until(
        "the diary",
        |app| matches!(app.state.diary.day(), Some(Ok(d)) if !d.segments.is_empty()),
    );
    w.open_segment("Segment 09:00–09:10, Backend development");
    w.harness.get_by_label_contains("No screenshot:");
}

// Item 12: after an upload the cell's thumbnail vanished until another day
// was shown. The diary now lists the uploaded segment at once, with the
// picture it had from the cache.
#[test]
fn a_thumbnail_stays_when_its_segment_is_uploaded() {
    let mut w = open_with_screen();
    w.click("Start");
    w.until("tracking", |app| tracking(app).is_some());
    w.click("Work Diary");
    w.until("the diary", diary_loaded);
    // 15:10:30: the first segment, with its screenshot, is cut and cached,
    // then uploaded.
    w.clock.advance(Duration::seconds(630));
    let engine = w.harness.state().engine().unwrap();
    engine.worker.send(timecard_client::worker::Command::Tick);
    w.until("the segment uploaded, with its picture", |app| {
        let s = app.latest();
        s.cache.pending.is_empty()
            && matches!(app.state.diary.day(), Some(Ok(d)) if d.segments.len() == 1
                && app.state.diary.pictures.contains_key(&d.segments[0].id))
    });
    w.harness
        .get_by_label("Segment 15:00–15:10, Backend development");
}

// Item 13: the delete confirmation said "1 min" for 1:54 and its button was
// not red; it gives the exact time, and Delete is red.
#[test]
fn the_delete_confirmation_gives_the_exact_time() {
    let mut w = open();
    w.upload_segment(
        at("2026-11-25T09:00:00Z"),
        at("2026-11-25T09:01:54Z"),
        None,
        None,
    );
    w.click("Work Diary");
    w.until(
        "the diary",
        |app| matches!(app.state.diary.day(), Some(Ok(d)) if !d.segments.is_empty()),
    );
    w.open_segment("Segment 09:00–09:01, Backend development");
    w.click("Delete segment…");
    w.harness.step();
    w.harness.get_by_label(
        "Its screenshot and its 0:01:54 of time are removed from your Work Diary. This cannot be undone.",
    );
}
