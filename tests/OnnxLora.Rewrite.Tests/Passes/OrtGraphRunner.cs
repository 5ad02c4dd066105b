// Runs an in-memory IR model on ORT CPU for the pass tests: saves it to a temp folder, feeds named
// float32 / float16 / int64 / int32 inputs and returns the requested outputs widened to float32.
// It builds no graphs and checks nothing; the tests compare what it returns.
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.IO;

namespace OnnxLora.Rewrite.Tests.Passes;

internal static class OrtGraphRunner
{
    public static Dictionary<string, float[]> Run(Model model, IReadOnlyList<Feed> feeds, params string[] outputs)
    {
        using var dir = new TempDir();
        var path = dir["model.onnx"];
        ModelWriter.Save(model, path);
        using var session = new InferenceSession(path);
        var values = feeds.Select(Tensor).ToList();
        try
        {
            using var results = session.Run(new RunOptions(), feeds.Select(f => f.Name).ToList(), values, outputs);
            return outputs.Select((name, i) => (name, ToFloats(results[i]))).ToDictionary(p => p.name, p => p.Item2);
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    /// <summary>Deterministic values in [-amplitude, amplitude).</summary>
    public static float[] Random(int seed, int count, float amplitude = 1f)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2 - 1) * amplitude)).ToArray();
    }

    public static Half[] ToHalf(float[] x) => Array.ConvertAll(x, v => (Half)v);

    /// <summary>float32 values after a round trip through float16 (what an fp16 graph actually receives).</summary>
    public static float[] RoundToHalf(float[] x) => Array.ConvertAll(x, v => (float)(Half)v);

    /// <summary>Largest |a − b| over the positions where <paramref name="keep"/> is true (all when null).</summary>
    public static double MaxAbsDiff(float[] a, float[] b, Func<int, bool>? keep = null)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (keep is null || keep(i))
            {
                m = Math.Max(m, Math.Abs((double)a[i] - b[i]));
                if (float.IsNaN(a[i]) || float.IsNaN(b[i]))
                {
                    return double.PositiveInfinity;
                }
            }
        }
        return m;
    }

    private static OrtValue Tensor(Feed f) => f.Data switch
    {
        float[] x => OrtValue.CreateTensorValueFromMemory(x, f.Shape),
        long[] x => OrtValue.CreateTensorValueFromMemory(x, f.Shape),
        int[] x => OrtValue.CreateTensorValueFromMemory(x, f.Shape),
        Half[] x => OrtValue.CreateTensorValueFromMemory(
            Array.ConvertAll(x, h => new Float16(BitConverter.HalfToUInt16Bits(h))), f.Shape),
        _ => throw new ArgumentException($"input '{f.Name}': unsupported element type {f.Data.GetType().Name}"),
    };

    private static float[] ToFloats(OrtValue v)
    {
        var info = v.GetTensorTypeAndShape();
        return info.ElementDataType switch
        {
            TensorElementType.Float => v.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Float16 => v.GetTensorDataAsSpan<Float16>().ToArray().Select(h => h.ToFloat()).ToArray(),
            var t => throw new ArgumentException($"output element type {t} is not read by this runner"),
        };
    }
}
