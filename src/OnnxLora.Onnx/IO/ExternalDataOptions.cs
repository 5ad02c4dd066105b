// How ModelWriter places initializer bytes: which side file, what stays inline, alignment.
namespace OnnxLora.Onnx.IO;

public sealed record ExternalDataOptions
{
    /// <summary>Side file for weights, relative to the model file's folder.</summary>
    public string DataFileName { get; init; } = "model.onnx.data";

    /// <summary>Tensors smaller than this stay inline as raw_data (ORT's converter uses 1 KiB too).</summary>
    public long InlineThreshold { get; init; } = 1024;

    /// <summary>Large tensors start on a page boundary so ORT and we can memory-map them.</summary>
    public long LargeAlignment { get; init; } = 4096;

    public long SmallAlignment { get; init; } = 64;

    public long LargeTensorBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// An initializer whose bytes already live in a file inside the output folder is referenced
    /// in place instead of copied (artifacts share the base model's weights this way).
    /// </summary>
    public bool ReferenceFilesInOutputFolder { get; init; } = true;

    /// <summary>
    /// Side files reachable from the output folder under another name (a link the caller made):
    /// full source path → location relative to the output folder. Such weights are referenced, never copied.
    /// </summary>
    public IReadOnlyDictionary<string, string> LinkedFiles { get; init; } = new Dictionary<string, string>();
}
