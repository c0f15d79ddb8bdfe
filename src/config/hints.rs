//! Where a config mistake is (line and column from a byte offset) and what to do about it
//! (the closest known key for a typo, where the example file is).

pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// For "unknown field `fsp`, expected one of `width`, …": the closest known name.
pub(super) fn hint_for(message: &str) -> String {
    if message.starts_with("invalid type") {
        return " (/usr/share/doc/roombox/roombox.toml.example shows every key with a value of the right form)".into();
    }
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return String::new();
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return String::new();
    };
    if unknown == "board" {
        return " (board = … goes at the top of the file, before any [section])".into();
    }
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let best = known.iter().map(|k| (edit_distance(unknown, k), *k)).min();
    match best {
        Some((d, k)) if d <= 2.max(unknown.len() / 3) => format!(" (did you mean `{k}`?)"),
        _ => " (remove it, or see /usr/share/doc/roombox/roombox.toml.example for every key)".into(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
