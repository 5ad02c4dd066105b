// Where ORT sessions run and resident tensors live. Written as "cpu" / "cuda" in config files, flags
// and config.json (RuntimeNames); Cuda needs the -p:OnnxLoraCuda=true build of ONNX Runtime.
namespace OnnxLora.Onnx.Runtime;

public enum Device
{
    Cpu,
    Cuda,
}
