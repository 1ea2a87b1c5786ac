//! Marian SentencePiece tokenizer (written on another branch; this file is replaced at merge).
