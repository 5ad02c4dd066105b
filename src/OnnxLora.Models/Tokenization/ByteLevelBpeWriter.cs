// Writes a byte-level BPE tokenizer learned from any text as standard HF tokenizer.json/tokenizer_config.json:
// 3 specials (<pad> 0, <s> 1, </s> 2) + the 256 bytes + merges until the vocabulary is full, a Zephyr-style chat
// template that writes BOS itself, BOS added to plain text by the post-processor. Byte-for-byte deterministic for one text and size. It does not encode.
using System.Text.Encodings.Web;
using System.Text.Json;

namespace OnnxLora.Models.Tokenization;

public static class ByteLevelBpeWriter
{
    public const int PadId = 0;
    public const int BosId = 1;
    public const int EosId = 2;
    public const string PadToken = "<pad>";
    public const string BosToken = "<s>";
    public const string EosToken = "</s>";

    /// <summary>Entries that are not merges: the specials and one per byte. A vocabulary must be larger.</summary>
    public const int BaseVocabSize = 3 + 256;

    /// <summary>Zephyr-style roles; the template writes BOS itself, as Llama 3's and Gemma's do (apply_chat_template adds nothing).</summary>
    public const string ChatTemplate =
        "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}</s>\n{% endfor %}" +
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

    /// <summary>
    /// Learns up to <paramref name="vocabSize"/> - <see cref="BaseVocabSize"/> merges from <paramref name="corpus"/>.
    /// <see cref="BpeTokenizerFiles.VocabSize"/> is smaller than asked only when the text runs out of pairs to merge.
    /// </summary>
    public static BpeTokenizerFiles Build(string corpus, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        if (vocabSize <= BaseVocabSize)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, $"a byte-level BPE vocabulary needs more than {BaseVocabSize} entries");
        }
        string[] specials = [PadToken, BosToken, EosToken];
        var vocab = new List<string>(vocabSize);
        vocab.AddRange(specials);
        for (int b = 0; b < 256; b++)
        {
            vocab.Add(ByteLevelAlphabet.CharFor((byte)b).ToString());
        }
        var known = new HashSet<string>(vocab, StringComparer.Ordinal);
        var merges = new List<(string, string)>();
        foreach (var (left, right) in BpeMergeTrainer.Train(corpus, vocabSize - vocab.Count))
        {
            merges.Add((left, right));
            if (known.Add(left + right))
            {
                vocab.Add(left + right);
            }
        }
        return new BpeTokenizerFiles(WriteTokenizerJson(specials, vocab, merges), WriteConfigJson(specials), vocab.Count);
    }

    private static byte[] WriteTokenizerJson(string[] specials, List<string> vocab, List<(string, string)> merges)
    {
        return WriteJson(w =>
        {
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            for (int id = 0; id < specials.Length; id++)
            {
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("content", specials[id]);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            w.WriteStartObject("pre_tokenizer");
            WriteByteLevel(w);
            w.WriteEndObject();
            w.WriteStartObject("post_processor");
            WriteBosTemplate(w);
            w.WriteEndObject();
            w.WriteStartObject("decoder");
            WriteByteLevel(w);
            w.WriteEndObject();
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            for (int id = 0; id < vocab.Count; id++)
            {
                w.WriteNumber(vocab[id], id);
            }
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var (left, right) in merges)
            {
                w.WriteStringValue($"{left} {right}");
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static void WriteByteLevel(Utf8JsonWriter w)
    {
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", true);
    }

    // Same as TemplateProcessing "<s> $A" that HF writes for add_bos_token=true.
    private static void WriteBosTemplate(Utf8JsonWriter w)
    {
        w.WriteString("type", "TemplateProcessing");
        w.WriteStartArray("single");
        WriteSpecialPiece(w);
        WriteSequencePiece(w, "A");
        w.WriteEndArray();
        w.WriteStartArray("pair");
        WriteSpecialPiece(w);
        WriteSequencePiece(w, "A");
        WriteSpecialPiece(w);
        WriteSequencePiece(w, "B");
        w.WriteEndArray();
        w.WriteStartObject("special_tokens");
        w.WriteStartObject(BosToken);
        w.WriteString("id", BosToken);
        w.WriteStartArray("ids");
        w.WriteNumberValue(BosId);
        w.WriteEndArray();
        w.WriteStartArray("tokens");
        w.WriteStringValue(BosToken);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSpecialPiece(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("SpecialToken");
        w.WriteString("id", BosToken);
        w.WriteNumber("type_id", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSequencePiece(Utf8JsonWriter w, string id)
    {
        w.WriteStartObject();
        w.WriteStartObject("Sequence");
        w.WriteString("id", id);
        w.WriteNumber("type_id", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static byte[] WriteConfigJson(string[] specials)
    {
        return WriteJson(w =>
        {
            w.WriteBoolean("add_bos_token", true);
            w.WriteBoolean("add_eos_token", false);
            w.WriteStartObject("added_tokens_decoder");
            for (int id = 0; id < specials.Length; id++)
            {
                w.WriteStartObject(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.WriteString("content", specials[id]);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteString("bos_token", BosToken);
            w.WriteString("eos_token", EosToken);
            w.WriteString("pad_token", PadToken);
            w.WriteNull("unk_token");
            w.WriteString("chat_template", ChatTemplate);
            w.WriteBoolean("clean_up_tokenization_spaces", false);
            w.WriteNumber("model_max_length", 2048);
            w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
        });
    }

    private static byte[] WriteJson(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        var options = new JsonWriterOptions
        {
            Indented = true,
            NewLine = "\n",
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        using (var w = new Utf8JsonWriter(buffer, options))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }
}
