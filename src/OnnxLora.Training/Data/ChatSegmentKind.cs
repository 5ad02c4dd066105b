// What a rendered chat segment is: plain text to encode, the tokenizer's BOS/EOS id, or an end-of-turn marker
// (text that becomes the EOS id when it is the EOS token's own text, e.g. "</s>", and is encoded as text otherwise).
namespace OnnxLora.Training.Data;

public enum ChatSegmentKind
{
    Text,
    Bos,
    Eos,
    EndOfTurn,
}
