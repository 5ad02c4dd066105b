// A conversation as training input: the rendered text, its token ids (tokenized with add_special_tokens=False, as
// transformers' apply_chat_template(tokenize=True) does) and which of them the loss counts (assistant turns).
namespace OnnxLora.Models.Chat;

public sealed record ChatEncoding(string Text, IReadOnlyList<int> Ids, IReadOnlyList<bool> Counted);
