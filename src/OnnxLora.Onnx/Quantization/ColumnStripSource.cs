// Supplies columns of a float weight W (K,N) [in,out] to the int4 quantizer, a strip at a time.
namespace OnnxLora.Onnx.Quantization;

/// <summary>Fills <paramref name="strip"/>, (K, count) row-major, with W[:, firstColumn .. firstColumn+count).</summary>
public delegate void ColumnStripSource(int firstColumn, int count, Span<float> strip);
