//! An empty eframe window: the memory floor `ci/perf.sh` measures Timecard
//! against. Same eframe features, renderer and window size as the app, one
//! empty central panel; says on standard error when its first frame is
//! drawn.
// Reports go to the terminal: this is a harness, not a command.
#![allow(clippy::print_stdout, clippy::print_stderr)]

fn main() -> eframe::Result {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Empty")
            .with_inner_size([760.0, 620.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    eframe::run_native(
        "Empty",
        options,
        Box::new(|_| Ok(Box::new(Empty { drawn: false }))),
    )
}

struct Empty {
    drawn: bool,
}

impl eframe::App for Empty {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |_| {});
        if !self.drawn {
            self.drawn = true;
            let _ = std::io::Write::write_all(&mut std::io::stderr(), b"first frame\n");
        }
    }
}
