//! Chunking a sequence of text units (sentences, paragraphs) under a
//! budget: the one place where the translate, summarize and facts stages
//! decide how much of an article goes into one model request.
use crate::error::Result;
use std::ops::Range;

/// Split `items` into consecutive, non-empty ranges, greedily: a range
/// grows while it has fewer than `max_items` items and `fits` accepts the
/// grown slice. A single item always forms a range, even when `fits`
/// rejects it alone (the caller then handles an over-long item: the
/// translator splits it, the summarizer maps it alone).
///
/// `fits` is called with slices of two or more items only.
pub fn chunk_by_budget<T>(
    items: &[T],
    max_items: usize,
    mut fits: impl FnMut(&[T]) -> Result<bool>,
) -> Result<Vec<Range<usize>>> {
    let max_items = max_items.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let mut end = start + 1;
        while end < items.len() && end - start < max_items && fits(&items[start..=end])? {
            end += 1;
        }
        out.push(start..end);
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lens(items: &[usize], max: usize, budget: usize) -> Vec<Range<usize>> {
        chunk_by_budget(items, max, |s| Ok(s.iter().sum::<usize>() <= budget)).unwrap()
    }

    #[test]
    fn greedy_ranges_cover_everything_in_order() {
        assert_eq!(lens(&[3, 3, 3, 3], 10, 6), vec![0..2, 2..4]);
        assert_eq!(lens(&[3, 3, 3, 3], 3, 100), vec![0..3, 3..4]);
        // An item over the budget still forms its own range.
        assert_eq!(lens(&[9, 1, 1], 10, 5), vec![0..1, 1..3]);
        assert_eq!(lens(&[], 4, 5), Vec::<Range<usize>>::new());
        assert_eq!(lens(&[1, 1], 0, 5), vec![0..1, 1..2]);
    }

    #[test]
    fn errors_propagate() {
        let r = chunk_by_budget(&[1, 2], 4, |_| {
            Err(crate::Error::Generation("count failed".into()))
        });
        assert!(r.is_err());
    }
}
