// The batch of a parity run: input_ids, attention_mask and labels (B,T), read from safetensors.
// A batch without attention_mask gets all ones; without labels, no loss is computed.
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Training.Parity;

public sealed record ParityBatch(long[] InputIds, long[] AttentionMask, long[]? Labels, int Batch, int Time)
{
    /// <summary>
    /// The tensors of a batch file that are inputs, not reference answers. position_ids is read by nothing: our training and
    /// eval graphs use positions 0..T-1 in every row, as transformers does when none are passed.
    /// </summary>
    public static readonly IReadOnlySet<string> InputNames = new HashSet<string>(StringComparer.Ordinal) { "input_ids", "attention_mask", "labels", "position_ids" };

    public static ParityBatch Load(string path)
    {
        using var file = SafetensorsFile.Open(path);
        if (!file.Contains("input_ids"))
        {
            throw new InvalidDataException($"{path}: tensor 'input_ids' not found");
        }
        var shape = file.GetInfo("input_ids").Shape;
        if (shape.Length != 2)
        {
            throw new InvalidDataException($"{path}: tensor 'input_ids' must be (B,T), got [{string.Join(",", shape)}]");
        }
        int b = (int)shape[0], t = (int)shape[1];
        long[] Read(string name)
        {
            var s = file.GetInfo(name).Shape;
            if (!s.SequenceEqual(shape))
            {
                throw new InvalidDataException($"{path}: tensor '{name}' has shape [{string.Join(",", s)}], input_ids has [{b},{t}]");
            }
            return file.ReadInt64(name);
        }
        var ids = Read("input_ids");
        var mask = file.Contains("attention_mask") ? Read("attention_mask") : Enumerable.Repeat(1L, b * t).ToArray();
        var labels = file.Contains("labels") ? Read("labels") : null;
        return new ParityBatch(ids, mask, labels, b, t);
    }
}
