//! Knowledge excerpts (`seeds/knowledge/excerpts.json`): short general facts about maintenance, each with
//! its public source. General questions are answered from them and cited as knowledge, apart from the
//! vehicle's own records.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::search::{Bm25Index, tokens};

pub const EXCERPTS_JSON: &str = include_str!("../../../seeds/knowledge/excerpts.json");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Excerpt {
    pub id: String,
    pub title: String,
    pub text: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub title: String,
    pub url: String,
}

#[derive(Deserialize)]
struct File {
    excerpts: Vec<Excerpt>,
}

/// The excerpts and their index, built once per process.
pub struct KnowledgeBase {
    pub excerpts: Vec<Excerpt>,
    index: Bm25Index,
}

impl KnowledgeBase {
    pub fn parse(json: &str) -> Result<KnowledgeBase, serde_json::Error> {
        let file: File = serde_json::from_str(json)?;
        // Title and tags count twice: they say what the excerpt is about.
        let documents: Vec<String> = file
            .excerpts
            .iter()
            .map(|e| {
                let tags = e.tags.join(" ");
                format!("{} {} {tags} {tags} {}", e.title, e.title, e.text)
            })
            .collect();
        let index = Bm25Index::build(documents.iter().map(String::as_str));
        Ok(KnowledgeBase {
            excerpts: file.excerpts,
            index,
        })
    }

    pub fn builtin() -> &'static KnowledgeBase {
        static KB: OnceLock<KnowledgeBase> = OnceLock::new();
        KB.get_or_init(|| {
            KnowledgeBase::parse(EXCERPTS_JSON).expect("seeds/knowledge/excerpts.json is valid")
        })
    }

    /// The excerpts that answer `question`, best first: those whose title or tags share a word with it. A
    /// word only in an excerpt's text is not what it is about ("weather" in the wiper blades' excerpt does
    /// not make it answer "What's the weather tomorrow?").
    pub fn search(&self, question: &str, limit: usize) -> Vec<&Excerpt> {
        let asked = tokens(question);
        self.index
            .search(question, self.excerpts.len())
            .into_iter()
            .map(|(i, _)| &self.excerpts[i])
            .filter(|e| {
                tokens(&format!("{} {}", e.title, e.tags.join(" ")))
                    .iter()
                    .any(|w| asked.contains(w))
            })
            .take(limit)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_excerpt_has_a_public_source() {
        let kb = KnowledgeBase::builtin();
        assert!(kb.excerpts.len() >= 10);
        for e in &kb.excerpts {
            assert!(e.source.url.starts_with("https://"), "{}", e.id);
            assert!(!e.text.is_empty() && e.text.len() < 800, "{}", e.id);
        }
    }

    #[test]
    fn questions_find_their_excerpt() {
        let kb = KnowledgeBase::builtin();
        for (question, excerpt) in [
            ("why does 17c matter", "kb_17c_diminished_value"),
            ("signs of worn brakes", "kb_brake_wear_signs"),
            ("how often should I rotate my tires", "kb_tire_rotation"),
            ("what does a cabin air filter do", "kb_cabin_air_filter"),
        ] {
            assert_eq!(kb.search(question, 1)[0].id, excerpt, "{question}");
        }
        assert!(kb.search("zeppelin", 1).is_empty());
        // Words only in an excerpt's text do not make it the answer.
        assert!(kb.search("what is the weather tomorrow", 1).is_empty());
    }
}
