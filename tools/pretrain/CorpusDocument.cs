// One pretraining document: its text and the package it came from ("wordnet" or "fortunes").
namespace OnnxLora.Tools.Pretrain;

internal sealed record CorpusDocument(string Source, string Text);
