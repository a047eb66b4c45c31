//! One calm look: a single accent colour, readable type, light and dark
//! following the system.

use egui::{Color32, FontFamily, FontId, TextStyle};

/// The accent: a deep teal that reads on light and dark backgrounds.
pub const ACCENT: Color32 = Color32::from_rgb(0x14, 0x85, 0x7a);
pub const OK: Color32 = Color32::from_rgb(0x2e, 0xa0, 0x43);
pub const WARN: Color32 = Color32::from_rgb(0xd9, 0x8c, 0x1f);
pub const BAD: Color32 = Color32::from_rgb(0xcc, 0x3d, 0x3d);
/// Time not on the server yet (cached, held back, being recorded).
pub const NOT_YET: Color32 = WARN;
pub const MUTED: Color32 = Color32::from_rgb(0x8a, 0x8f, 0x98);

/// Corner radius of progress bars: small, so a bar that is barely started
/// shows a thin sliver rather than a round blob over its text.
pub const BAR_RADIUS: u8 = 3;

/// Distinct, quiet colours for contracts in the Work Diary.
pub const CONTRACT_COLOURS: [Color32; 6] = [
    Color32::from_rgb(0x14, 0x85, 0x7a),
    Color32::from_rgb(0x4c, 0x6e, 0xf5),
    Color32::from_rgb(0xb0, 0x5c, 0xc9),
    Color32::from_rgb(0xd9, 0x8c, 0x1f),
    Color32::from_rgb(0x3a, 0x9c, 0xc9),
    Color32::from_rgb(0x8c, 0x9a, 0x2e),
];

pub fn apply(ctx: &egui::Context) {
    ctx.all_styles_mut(|style| {
        style.text_styles = [
            (
                TextStyle::Heading,
                FontId::new(21.0, FontFamily::Proportional),
            ),
            (TextStyle::Body, FontId::new(15.0, FontFamily::Proportional)),
            (
                TextStyle::Button,
                FontId::new(15.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Small,
                FontId::new(12.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(15.0, FontFamily::Monospace),
            ),
        ]
        .into();
        style.spacing.item_spacing = egui::vec2(8.0, 8.0);
        style.spacing.button_padding = egui::vec2(12.0, 6.0);
        // D9: scroll bars take their own room beside the content: egui's
        // default floating bar covered the right edge of buttons.
        style.spacing.scroll = egui::style::ScrollStyle::solid();
        style.visuals.selection.bg_fill = ACCENT;
        style.visuals.hyperlink_color = ACCENT;
    });
}

/// A status dot's colour for the K5 state code.
pub fn sync_colour(code: &str) -> Color32 {
    match code {
        "online" | "uploading" => OK,
        "caching" | "connecting" => WARN,
        _ => BAD,
    }
}

/// A small filled dot in `colour`, with a hover text naming what it means.
pub fn dot(ui: &mut egui::Ui, colour: Color32, meaning: &str) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 5.0, colour);
    let meaning = meaning.to_owned();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &meaning));
    response.on_hover_text(meaning)
}

/// The app's icon for its windows (the title bar, the task bar, the
/// window switcher): `resources/icons/timecard.svg` rendered at 128 px by
/// `ci/icons.sh`. `None` (and a log line) should the PNG not decode.
/// Decoded once, shared by the main window and the mini view.
pub fn window_icon() -> Option<std::sync::Arc<egui::IconData>> {
    const PNG: &[u8] = include_bytes!("../../resources/icons/hicolor/128x128/apps/timecard.png");
    static ICON: std::sync::OnceLock<Option<std::sync::Arc<egui::IconData>>> =
        std::sync::OnceLock::new();
    ICON.get_or_init(|| match eframe::icon_data::from_png_bytes(PNG) {
        Ok(icon) => Some(std::sync::Arc::new(icon)),
        Err(e) => {
            log::warn!("the window icon does not decode: {e}");
            None
        }
    })
    .clone()
}
