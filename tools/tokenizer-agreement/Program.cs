// tokenizer-agreement: how often our tokenizer's ids differ from a reference on a corpus of {"text"} lines.
//   --model <dir> --texts <f.jsonl> --reference <ids.jsonl>   our TextTokenizer vs reference ids (tokenize-corpus.mjs)
//   --model <dir> --texts <f.jsonl> --sentencepiece true        the folder's tokenizer.model (Microsoft.ML.Tokenizers'
//       LlamaTokenizer) vs its tokenizer.json (HF merge order), texts starting with whitespace left out (the two
//       formats treat a leading space differently by design, so only the tie-break shows)
// Prints texts compared, texts that differ (%), and tokens in differing texts. Exit 2 on bad options.
using System.Text.Json;
using OnnxLora.Models.Tokenization;

try
{
    var a = Args.Parse(args);
    string model = a.Get("model", ""), textsPath = a.Get("texts", ""), reference = a.Get("reference", "");
    bool sentencePiece = a.Get("sentencepiece", "false") == "true";
    if (model.Length == 0 || textsPath.Length == 0 || (reference.Length == 0) == !sentencePiece)
    {
        throw new ArgumentException("usage: --model <dir> --texts <f.jsonl> (--reference <ids.jsonl> | --sentencepiece true)");
    }
    var texts = File.ReadLines(textsPath).Where(l => l.Length > 0)
        .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString()!).ToList();
    var ours = TextTokenizer.Load(model);
    Func<string, IReadOnlyList<int>> expected;
    if (sentencePiece)
    {
        // The reference here is tokenizer.json (exact merge order); "ours" becomes the tokenizer.model path.
        string only = Path.Combine(Path.GetTempPath(), $"tokenizer-agreement-{Environment.ProcessId}");
        Directory.CreateDirectory(only);
        foreach (var f in new[] { "tokenizer.model", "tokenizer_config.json" })
        {
            if (File.Exists(Path.Combine(model, f)))
            {
                File.Copy(Path.Combine(model, f), Path.Combine(only, f), overwrite: true);
            }
        }
        var json = ours;
        ours = TextTokenizer.Load(only);
        expected = t => json.Encode(t, addSpecialTokens: false);
        texts = texts.Where(t => t.Length > 0 && !char.IsWhiteSpace(t[0])).ToList();
    }
    else
    {
        var refIds = File.ReadLines(reference).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize<int[]>(l)!).ToList();
        if (refIds.Count != texts.Count)
        {
            throw new ArgumentException($"{reference}: {refIds.Count} lines for {texts.Count} texts");
        }
        var byText = new Dictionary<string, int[]>(StringComparer.Ordinal);
        for (int i = 0; i < texts.Count; i++)
        {
            byText[texts[i]] = refIds[i];
        }
        expected = t => byText[t];
    }
    int differ = 0;
    long tokens = 0, tokensInDiffering = 0;
    string? example = null;
    foreach (string t in texts)
    {
        var want = expected(t);
        var got = ours.Encode(t, addSpecialTokens: false);
        tokens += want.Count;
        if (!want.SequenceEqual(got))
        {
            differ++;
            tokensInDiffering += want.Count;
            example ??= t;
        }
    }
    Console.WriteLine(FormattableString.Invariant(
        $"{Path.GetFileName(Path.GetFullPath(model))} ({ours.Kind}): {texts.Count} texts, {tokens} tokens; {differ} texts differ ({100.0 * differ / Math.Max(1, texts.Count):F3}%), {tokensInDiffering} tokens in them"));
    if (example is not null)
    {
        Console.WriteLine($"  first differing text: {JsonSerializer.Serialize(example.Length > 120 ? example[..120] + "…" : example)}");
    }
    return 0;
}
catch (Exception e) when (e is ArgumentException or IOException or JsonException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
