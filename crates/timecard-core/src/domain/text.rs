//! X5: the one rule for text people type — memos, titles, client names,
//! logins, e-mail addresses, dispute reasons, answers and decision notes —
//! checked where the text enters (the API, the web forms, the command
//! line), and the one way such text is shown where it may hold what older
//! versions let in.
//!
//! Text may not hold control characters (escape sequences retitle a
//! terminal or clear it; a NUL cuts a C string) nor the characters that
//! reorder text on screen (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F: a
//! "Trojan Source" memo reads one way and sorts another). Newlines and tabs
//! are allowed where a field has lines ([`Lines::Many`]).

/// Whether a field holds one line (a title, a login) or several (a memo,
/// a dispute's reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// Characters that reorder text on screen.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Whether `c` may not stand in typed text with `lines`.
pub fn is_forbidden(c: char, lines: Lines) -> bool {
    let allowed_space = lines == Lines::Many && matches!(c, '\n' | '\t' | '\r');
    (c.is_control() && !allowed_space) || is_bidi_control(c)
}

/// Why `text` cannot be the field `what`: longer than `max_chars`
/// characters, or holding a character the rule forbids (named, so the
/// person can find it). `None`: it may be stored.
pub fn text_problem(what: &str, text: &str, max_chars: usize, lines: Lines) -> Option<String> {
    let chars = text.chars().count();
    if chars > max_chars {
        return Some(format!(
            "the {what} is {chars} characters long; at most {max_chars} are kept"
        ));
    }
    let bad = text.chars().find(|&c| is_forbidden(c, lines))?;
    Some(match bad {
        '\n' | '\r' => format!("the {what} must be one line"),
        c if is_bidi_control(c) => format!(
            "the {what} holds a character that reorders text on screen (U+{:04X})",
            c as u32
        ),
        c => format!("the {what} holds a control character (U+{:04X})", c as u32),
    })
}

/// Text stored before the rule, made harmless to show: forbidden
/// characters become U+FFFD (newlines and tabs stay where `lines` allows
/// them). Borrowed when nothing changes.
pub fn shown(text: &str, lines: Lines) -> std::borrow::Cow<'_, str> {
    if text.chars().any(|c| is_forbidden(c, lines)) {
        text.chars()
            .map(|c| {
                if is_forbidden(c, lines) {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_refuses_controls_and_reordering() {
        assert_eq!(
            text_problem("title", "Website redesign", 200, Lines::One),
            None
        );
        assert_eq!(
            text_problem("memo", "line one\n\tline two", 2000, Lines::Many),
            None
        );
        assert_eq!(
            text_problem("title", "a\u{1b}]0;owned\u{7}", 200, Lines::One).unwrap(),
            "the title holds a control character (U+001B)"
        );
        assert_eq!(
            text_problem("title", "two\nlines", 200, Lines::One).unwrap(),
            "the title must be one line"
        );
        assert!(
            text_problem("reason", "paid \u{202e}0001$", 500, Lines::Many)
                .unwrap()
                .contains("U+202E")
        );
        assert!(text_problem("memo", "\u{0}", 10, Lines::Many).is_some());
        assert!(
            text_problem("memo", "\u{85}", 10, Lines::Many).is_some(),
            "C1 controls too"
        );
        assert!(
            text_problem("login", "ann", 2, Lines::One)
                .unwrap()
                .contains("at most 2")
        );
        // Letters of every script are text.
        assert_eq!(
            text_problem("client", "Zoë · 東京 · عربى", 200, Lines::One),
            None
        );
    }

    #[test]
    fn stored_text_is_shown_harmless() {
        assert!(matches!(
            shown("plain", Lines::One),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            shown("a\u{202e}b\u{1b}c", Lines::One),
            "a\u{fffd}b\u{fffd}c"
        );
        assert_eq!(shown("a\nb", Lines::Many), "a\nb");
        assert_eq!(shown("a\nb", Lines::One), "a\u{fffd}b");
    }
}
