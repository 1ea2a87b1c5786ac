//! Numbers as written: digit runs, and the numbers they form across
//! thousands separators (`1,200`, `1 200`, `1\u{a0}200`). The translation's
//! digit check and the summary's grounding both read numbers this way, so
//! that `1,200` in one text matches «1200» in another.

/// The numbers of `text` as groups of digit runs: one run, or the runs
/// joined by thousands separators (`1,200`, `1 200` → `1`, `200`).
pub fn number_groups(text: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut group: Vec<String> = Vec::new();
    let mut run = String::new();
    for (k, &c) in chars.iter().enumerate() {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            group.push(std::mem::take(&mut run));
        }
        let separator = matches!(c, ',' | ' ' | '\u{a0}' | '\u{202f}')
            && k > 0
            && chars[k - 1].is_ascii_digit()
            && chars[k + 1..]
                .iter()
                .take(3)
                .filter(|d| d.is_ascii_digit())
                .count()
                == 3
            && !chars.get(k + 4).is_some_and(char::is_ascii_digit);
        if !separator && !group.is_empty() {
            out.push(std::mem::take(&mut group));
        }
    }
    if !run.is_empty() {
        group.push(run);
    }
    if !group.is_empty() {
        out.push(group);
    }
    out
}

/// The digit runs of `text`, and the numbers they form across thousands
/// separators (`1,200`, `1 200` → `1`, `200`, `1200`).
pub fn number_runs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for g in number_groups(text) {
        if g.len() > 1 {
            out.push(g.concat());
        }
        out.extend(g);
    }
    out
}

/// Is a number (its digit runs, from [`number_groups`]) among `have` (from
/// [`number_runs`] of another text)? Whole (`1,200` for «1200», `1200`
/// for «1 200»), or run by run (`1.5` for «1,5»).
pub fn number_present(runs: &[String], have: &std::collections::HashSet<String>) -> bool {
    have.contains(&runs.concat()) || runs.iter().all(|r| have.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_join_runs_and_decimals_do_not() {
        assert_eq!(
            number_runs("1,5 млрд і 2,000"),
            vec!["1", "5", "2000", "2", "000"]
        );
        assert_eq!(
            number_groups("1 200 і 12,3456"),
            vec![vec!["1", "200"], vec!["12"], vec!["3456"]]
        );
        assert_eq!(
            number_groups("1\u{a0}000\u{a0}000 осіб"),
            vec![vec!["1", "000", "000"]]
        );
    }
}
