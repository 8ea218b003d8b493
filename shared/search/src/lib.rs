//! Okapi BM25 over short documents (a record's title, notes, vendor, parts and tasks; a knowledge excerpt),
//! and the matched words a result highlights. The chat historian ranks a vehicle's records with it; the
//! edge's `GET /v1/search` ranks an organisation's.
//!
//! Why BM25 and not a library: the documents are a few words each and live per vehicle in memory, where an
//! inverted index with BM25 (k1 = 1.2, b = 0.75, Robertson–Spärck Jones idf, the scoring Lucene and tantivy
//! default to) ranks exactly as they would, builds in microseconds and needs no files. Tokens are lower-case
//! alphanumeric words without stop words, folded by a light English suffix stripper, so "brakes", "braking"
//! and "brake" meet.

use std::collections::HashMap;

const K1: f64 = 1.2;
const B: f64 = 0.75;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "by", "can", "did", "do", "does", "done",
    "for", "from", "had", "has", "have", "how", "i", "in", "is", "it", "its", "me", "my", "of",
    "on", "or", "our", "should", "that", "the", "there", "this", "to", "was", "we", "were", "what",
    "when", "where", "which", "who", "why", "will", "with", "you", "your", "about", "any",
    "anything", "get", "got", "car", "vehicle", "ever", "last", "time", "tell", "show", "much",
    "many",
];

/// Folds a word to a crude stem: plural, gerund and past endings, then a final "e" ("change", "changed"
/// and "changes" all become "chang").
pub fn stem(word: &str) -> String {
    let mut w = word.to_string();
    for (suffix, keep) in [("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")] {
        if let Some(base) = word.strip_suffix(suffix)
            && base.len() >= 3
            && !(suffix == "s" && base.ends_with('s'))
        {
            w = format!("{base}{keep}");
            break;
        }
    }
    if w.len() > 3 && w.ends_with('e') {
        w.pop();
    }
    w
}

/// Lower-case alphanumeric words, stop words removed, stemmed.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

/// The query's distinct terms, as [`tokens`] makes them.
pub fn terms(query: &str) -> Vec<String> {
    let mut terms = tokens(query);
    terms.sort();
    terms.dedup();
    terms
}

/// The words of `text` whose token is one of `terms`, as `(start, end)` character offsets (Unicode scalar
/// values, end exclusive): what a search result highlights.
pub fn matches(text: &str, terms: &[String]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut word = String::new();
    let mut start = 0;
    let mut flush = |word: &mut String, start: usize, end: usize| {
        if !word.is_empty() {
            let lower = word.to_lowercase();
            if !STOP_WORDS.contains(&lower.as_str()) && terms.contains(&stem(&lower)) {
                found.push((start, end));
            }
            word.clear();
        }
    };
    let mut n = 0;
    for (i, c) in text.chars().enumerate() {
        if c.is_alphanumeric() {
            if word.is_empty() {
                start = i;
            }
            word.push(c);
        } else {
            flush(&mut word, start, i);
        }
        n = i + 1;
    }
    flush(&mut word, start, n);
    found
}

/// An inverted index over documents identified by their position.
#[derive(Debug, Clone, Default)]
pub struct Bm25Index {
    postings: HashMap<String, Vec<(u32, u32)>>,
    lengths: Vec<u32>,
    average_length: f64,
}

impl Bm25Index {
    pub fn build<'a>(documents: impl IntoIterator<Item = &'a str>) -> Bm25Index {
        let mut index = Bm25Index::default();
        for (doc, text) in documents.into_iter().enumerate() {
            let words = tokens(text);
            index.lengths.push(words.len() as u32);
            let mut counts: HashMap<String, u32> = HashMap::new();
            for w in words {
                *counts.entry(w).or_default() += 1;
            }
            for (w, tf) in counts {
                index.postings.entry(w).or_default().push((doc as u32, tf));
            }
        }
        let total: u64 = index.lengths.iter().map(|&l| l as u64).sum();
        index.average_length = if index.lengths.is_empty() {
            0.0
        } else {
            total as f64 / index.lengths.len() as f64
        };
        index
    }

    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Documents matching any query term, best first (ties: lower position first), with their scores.
    pub fn search(&self, query: &str, limit: usize) -> Vec<(usize, f64)> {
        let n = self.lengths.len() as f64;
        let mut scores: HashMap<u32, f64> = HashMap::new();
        let mut terms = tokens(query);
        terms.sort();
        terms.dedup();
        for term in terms {
            let Some(list) = self.postings.get(&term) else {
                continue;
            };
            let df = list.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in list {
                let tf = tf as f64;
                let len = self.lengths[doc as usize] as f64;
                let norm = K1 * (1.0 - B + B * len / self.average_length.max(1.0));
                *scores.entry(doc).or_default() += idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        let mut ranked: Vec<(usize, f64)> =
            scores.into_iter().map(|(d, s)| (d as usize, s)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit);
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_and_gerund_forms_meet() {
        assert_eq!(stem("brakes"), "brak");
        assert_eq!(stem("braking"), "brak");
        assert_eq!(stem("changed"), stem("change"));
        assert_eq!(stem("rotors"), "rotor");
        assert_eq!(stem("batteries"), "battery");
        assert_eq!(stem("glass"), "glass");
        assert_eq!(
            tokens("Front brake pads, rotors!"),
            ["front", "brak", "pad", "rotor"]
        );
    }

    #[test]
    fn matches_are_the_words_whose_stems_are_query_terms() {
        let t = terms("Brake rotors");
        assert_eq!(t, ["brak", "rotor"]);
        assert_eq!(
            matches("Front brakes, new rotor; braking é ok", &t),
            [(6, 12), (18, 23), (25, 32)]
        );
        assert!(matches("the and", &terms("the")).is_empty());
        assert_eq!(matches("rotor", &t), [(0, 5)]);
    }

    #[test]
    fn rarer_terms_rank_higher_and_shorter_documents_win_ties() {
        let index = Bm25Index::build([
            "Oil and filter change",
            "Oil and filter change + tire rotation",
            "Front brake pads and rotors",
            "Tow hitch installed",
        ]);
        let hits = index.search("brake rotors", 10);
        assert_eq!(hits[0].0, 2);
        assert_eq!(hits.len(), 1);
        let oil = index.search("oil change", 10);
        assert_eq!(oil.iter().map(|h| h.0).collect::<Vec<_>>(), [0, 1]);
        assert!(index.search("sunroof", 10).is_empty());
    }
}
