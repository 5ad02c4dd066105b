// check-onnx: runs an ONNX model with ONNX Runtime (CPU) on the inputs stored in a cases file and compares every
// output with the stored expectation, printing max |diff| per output; exit 1 past the tolerance, 2 on bad input.
// Cases file (written by tools/torch-ref/*.py): safetensors with "<case>.in.<input name>" and
// "<case>.out.<output name>" tensors (F32/I64/U8). It does not build graphs or know anything about Llama.
using Microsoft.ML.OnnxRuntime;

const double DefaultTolerance = 1e-5; // fp32 ORT vs fp32 torch on the tiny fixture (observed ~1e-6)

if (args.Length == 0 || args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("""
        check-onnx --model <model.onnx> --cases <cases.safetensors> --case <name>[,<name>...] [--tol 1e-5] [--threads 1]
          Feeds <case>.in.* to the model, compares each <case>.out.* with the model's output of that name.
          Prints one line per output (max |diff|, max |expected|); exit 0 all within --tol, 1 otherwise, 2 bad input.
        """);
    return 0;
}

try
{
    var a = Args.Parse(args);
    string model = a.Get("model", ""), casesPath = a.Get("cases", ""), caseList = a.Get("case", "");
    if (model.Length == 0 || casesPath.Length == 0 || caseList.Length == 0)
    {
        throw new ArgumentException("--model, --cases and --case are required (see --help)");
    }
    double tol = double.Parse(a.Get("tol", DefaultTolerance.ToString("R")), System.Globalization.CultureInfo.InvariantCulture);
    int threads = int.Parse(a.Get("threads", "1"), System.Globalization.CultureInfo.InvariantCulture);
    var tensors = SafeTensors.Read(casesPath);

    using var options = new SessionOptions { IntraOpNumThreads = threads };
    using var session = new InferenceSession(model, options);
    bool ok = true;
    foreach (var name in caseList.Split(',', StringSplitOptions.RemoveEmptyEntries))
    {
        ok &= RunCase(session, tensors, name, tol, casesPath);
    }
    Console.WriteLine(ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException or OnnxRuntimeException or FormatException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

static bool RunCase(InferenceSession session, Dictionary<string, SafeTensors.Entry> tensors, string name, double tol, string path)
{
    string inPrefix = name + ".in.", outPrefix = name + ".out.";
    var inputs = tensors.Where(kv => kv.Key.StartsWith(inPrefix, StringComparison.Ordinal)).ToList();
    var expected = tensors.Where(kv => kv.Key.StartsWith(outPrefix, StringComparison.Ordinal)).ToList();
    if (inputs.Count == 0 || expected.Count == 0)
    {
        throw new InvalidDataException($"{path}: case '{name}' has no {inPrefix}* or no {outPrefix}* tensors");
    }

    var inputValues = inputs.Select(kv => kv.Value.ToOrtValue()).ToList();
    try
    {
        var outputNames = expected.Select(kv => kv.Key[outPrefix.Length..]).ToList();
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, inputs.Select(kv => kv.Key[inPrefix.Length..]).ToList(), inputValues, outputNames);
        bool ok = true;
        for (int i = 0; i < expected.Count; i++)
        {
            var want = expected[i].Value;
            var got = results[i];
            long[] shape = got.GetTensorTypeAndShape().Shape;
            if (!shape.SequenceEqual(want.Shape))
            {
                Console.WriteLine($"{name} {outputNames[i]}: shape [{string.Join(",", shape)}], expected [{string.Join(",", want.Shape)}]");
                ok = false;
                continue;
            }
            ReadOnlySpan<float> g = got.GetTensorDataAsSpan<float>();
            float[] w = want.Floats();
            double maxDiff = 0, maxRef = 0;
            for (int j = 0; j < w.Length; j++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs((double)g[j] - w[j]));
                maxRef = Math.Max(maxRef, Math.Abs((double)w[j]));
            }
            bool pass = maxDiff <= tol && !double.IsNaN(maxDiff);
            ok &= pass;
            Console.WriteLine($"{name} {outputNames[i]} [{string.Join(",", shape)}]: max|diff| {maxDiff:E2} (max|expected| {maxRef:E2}) {(pass ? "ok" : "FAIL")}");
        }
        return ok;
    }
    finally
    {
        foreach (var v in inputValues)
        {
            v.Dispose();
        }
    }
}
