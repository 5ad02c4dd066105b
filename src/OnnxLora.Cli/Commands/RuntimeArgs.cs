// The runtime flags of the commands that open sessions outside a train config (parity, eval, generate, chat,
// bench-decode): --device, --threads, --tf32 over the ONNXLORA_* defaults (RuntimeEnvironment). Bad values
// fail in one line naming the flag. `train` binds the same settings as config keys (runtime.*) instead.
using System.CommandLine;
using System.Globalization;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Cli.Commands;

internal sealed class RuntimeArgs
{
    private readonly Option<string?> _device = new("--device") { Description = "cpu or cuda (default cpu; cuda needs the -p:OnnxLoraCuda=true build)" };
    private readonly Option<string?> _threads = new("--threads") { Description = "Intra-op threads per ORT session (default ONNXLORA_THREADS, else ORT's choice)" };
    private readonly Option<string?> _tf32 = new("--tf32") { Description = "Allow TF32 matmuls on CUDA: true|false (default ONNXLORA_TF32, else false)" };
    private bool _hasDevice;

    /// <summary>Adds --threads and --tf32, and --device unless the command runs on CPU only.</summary>
    public static RuntimeArgs AddTo(Command cmd, bool device = true)
    {
        var a = new RuntimeArgs { _hasDevice = device };
        if (device)
        {
            cmd.Options.Add(a._device);
            cmd.Options.Add(a._tf32);
        }
        cmd.Options.Add(a._threads);
        return a;
    }

    /// <summary>The environment's defaults with the given flags applied.</summary>
    public RuntimeOptions Resolve(ParseResult r)
    {
        var o = RuntimeEnvironment.Defaults();
        if (_hasDevice && r.GetValue(_device) is { } device)
        {
            o = o with { Device = RuntimeNames.Parse<Device>(device, "--device") };
        }
        if (r.GetValue(_threads) is { } threads)
        {
            o = o with
            {
                Threads = int.TryParse(threads, NumberStyles.None, CultureInfo.InvariantCulture, out int n)
                    ? n
                    : throw new BadInputException($"--threads must be a whole number ≥ 0, got '{threads}'"),
            };
        }
        if (_hasDevice && r.GetValue(_tf32) is { } tf32)
        {
            o = o with
            {
                Tf32 = tf32 switch
                {
                    "true" => true,
                    "false" => false,
                    _ => throw new BadInputException($"--tf32 must be true or false, got '{tf32}'"),
                },
            };
        }
        return o;
    }
}
