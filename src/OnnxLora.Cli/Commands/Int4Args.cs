// Options shared by `merge --quantize int4` and `quantize`: block size, accuracy_level, asymmetric zero points and
// padding of a partial last block, turned into Int4QuantizeOptions; plus the one-line result report.
using OnnxLora.Onnx;
using System.CommandLine;
using System.Globalization;
using OnnxLora.Onnx.Quantization;
using OnnxLora.Rewrite.Fold;

namespace OnnxLora.Cli.Commands;

internal sealed class Int4Args
{
    private const double Mb = 1024 * 1024;

    private readonly Option<int?> _blockSize = new("--block-size")
    {
        Description = "Values per quantization block along K: a power of two ≥ 16 (default 32, the builder's)",
    };

    private readonly Option<int?> _accuracyLevel = new("--accuracy-level")
    {
        Description = "MatMulNBits accuracy_level 0..4 (default 4, the builder's for cpu: the kernel may quantize activations to int8)",
    };

    private readonly Option<bool> _asymmetric = new("--asymmetric") { Description = "One zero point per block (the builder's is_symmetric=false)" };

    private readonly Option<bool> _padLastBlock = new("--pad-last-block")
    {
        Description = "Allow a block size that does not divide K: zero-pad the last block as the builder does (refused by default)",
    };

    private readonly Option<bool> _quantizeEmbedding = new("--quantize-embedding")
    {
        Description = "Also store the embedding as int4 GatherBlockQuantized (the builder's -p int4 keeps it float by default, tied or not)",
    };

    private readonly Option<string[]> _exclude = new("--exclude")
    {
        Description = "Keep this weight float: a node or weight name, e.g. /lm_head/MatMul (repeatable; the builder's nodes_to_exclude)",
        AllowMultipleArgumentsPerToken = true,
    };

    public static Int4Args AddTo(Command cmd)
    {
        var a = new Int4Args();
        cmd.Options.Add(a._exclude);
        cmd.Options.Add(a._blockSize);
        cmd.Options.Add(a._accuracyLevel);
        cmd.Options.Add(a._asymmetric);
        cmd.Options.Add(a._padLastBlock);
        cmd.Options.Add(a._quantizeEmbedding);
        return a;
    }

    /// <summary>True when any int4 option was given (merge refuses them without --quantize).</summary>
    public bool AnyGiven(ParseResult r) =>
        r.GetValue(_blockSize) is not null || r.GetValue(_accuracyLevel) is not null || r.GetValue(_asymmetric) || r.GetValue(_padLastBlock)
        || r.GetValue(_quantizeEmbedding) || (r.GetValue(_exclude) ?? []).Length > 0;

    public Int4QuantizeOptions Options(ParseResult r)
    {
        var o = new Int4QuantizeOptions
        {
            BlockSize = r.GetValue(_blockSize) ?? Int4BlockLayout.DefaultBlockSize,
            AccuracyLevel = r.GetValue(_accuracyLevel) ?? MatMulNBits.BuilderCpuAccuracyLevel,
            Symmetric = !r.GetValue(_asymmetric),
            PadPartialBlocks = r.GetValue(_padLastBlock),
            QuantizeEmbedding = r.GetValue(_quantizeEmbedding),
            Exclude = (r.GetValue(_exclude) ?? []).ToHashSet(StringComparer.Ordinal),
        };
        return o.Check() is { } bad ? throw new BadInputException(bad) : o;
    }

    public static void Print(Int4MergeReport report, Int4QuantizeOptions o, string outDir, TimeSpan elapsed)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv,
            $"int4 (block {o.BlockSize}, {(o.Symmetric ? "symmetric" : "asymmetric")}, accuracy_level {o.AccuracyLevel}): " +
            $"{report.Quantized.Count} weights quantized, {report.Requantized.Count} requantized, {report.KeptInt4.Count} kept int4" +
            $"{(report.KeptFloat.Count > 0 ? $", {report.KeptFloat.Count} kept float" : "")}" +
            $"{(report.Targets.Count > 0 ? $", {report.Targets.Count} adapter targets folded" : "")} → {outDir} in {elapsed.TotalSeconds:F1}s"));
        if (report.Requantized.Count > 0)
        {
            Console.WriteLine(string.Create(inv,
                $"requantization after the fold onto the int4 base: max |W' − (dequant(W) + ΔW)| = {report.RequantizationMaxAbsError:G3} " +
                $"(largest step {report.RequantizationMaxStep:G3})"));
        }
        double modelMb = Directory.EnumerateFiles(outDir, Models.GenAiFolder.DefaultDecoderFile + "*").Sum(f => new FileInfo(f).Length) / Mb;
        Console.WriteLine(string.Create(inv, $"model {modelMb:F2} MB"));
    }
}
