// One example after tokenization: ids and labels (cut to max_seq_len), whether it was cut, whether it is kept,
// and for {"messages"} examples the text the chat template rendered (what `onnxlora tokenize` shows).
namespace OnnxLora.Training.Data;

public sealed record TokenizeResult(TokenizedExample Example, bool Truncated, ExampleStatus Status, string? RenderedText);
