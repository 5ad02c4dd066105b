// One graph input for OrtGraphRunner: its name, data (float[], Half[], long[] or int[]) and shape.
namespace OnnxLora.Rewrite.Tests.Passes;

internal sealed record Feed(string Name, Array Data, long[] Shape);
