// The LoRA weight delta in ONNX's [in,out] layout: Δ = scaling · (B·A)ᵀ, so Δ[i,o] = s · Σ_k A[k,i] · B[o,k].
// Fold and unfold both call this one place. It computes one row of Δ at a time (memory: one row + Bᵀ);
// it does not touch W. r=rank, in=input features, out=output features.
using System.Numerics.Tensors;
using OnnxLora.Onnx;

namespace OnnxLora.Rewrite.Fold;

public sealed class LoraDelta
{
    private readonly float[] _a;  // (r,in)
    private readonly float[] _bt; // (r,out) = Bᵀ

    /// <param name="a">A, (r,in) row-major.</param>
    /// <param name="b">B, (out,r) row-major.</param>
    public LoraDelta(float[] a, float[] b, int rank, int inFeatures, int outFeatures, float scaling)
    {
        if (a.Length != (long)rank * inFeatures || b.Length != (long)outFeatures * rank)
        {
            throw new BadInputException($"LoRA delta: A has {a.Length} values and B {b.Length}, expected r={rank}·in={inFeatures} and out={outFeatures}·r");
        }
        Rank = rank;
        In = inFeatures;
        Out = outFeatures;
        Scaling = scaling;
        _a = a;
        _bt = new float[(long)rank * outFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            for (int k = 0; k < rank; k++)
            {
                _bt[(k * outFeatures) + o] = b[(o * rank) + k];
            }
        }
    }

    public int Rank { get; }

    public int In { get; }

    public int Out { get; }

    public float Scaling { get; }

    /// <summary>Row <paramref name="i"/> of Δ: dst (out) = s · Σ_k A[k,i] · Bᵀ[k,:].</summary>
    public void ComputeRow(int i, Span<float> dst) => ComputeRowSlice(i, 0, dst[..Out]);

    /// <summary>Δ[i, col0 .. col0+dst.Length): the same operations per element as <see cref="ComputeRow"/>, so equal bits.</summary>
    public void ComputeRowSlice(int i, int col0, Span<float> dst)
    {
        dst.Clear();
        for (int k = 0; k < Rank; k++)
        {
            TensorPrimitives.MultiplyAdd(_bt.AsSpan((k * Out) + col0, dst.Length), _a[(k * In) + i], dst, dst);
        }
        TensorPrimitives.Multiply(dst, Scaling, dst);
    }

    /// <summary>
    /// The delta in the layout of a stored weight: rows of Δ (in,out) for [in,out] storage, or rows of Δᵀ = s·B·A (out,in)
    /// for weights kept [out,in] (HF layout behind a Transpose, Gemm transB=1), computed as the same product with A and B
    /// swapped: Δᵀ[o,i] = s·Σ_k Bᵀ[k,o]·Aᵀ[i,k].
    /// </summary>
    public static LoraDelta ForStorage(float[] a, float[] b, int rank, int inFeatures, int outFeatures, float scaling, bool storedOutIn)
    {
        if (!storedOutIn)
        {
            return new LoraDelta(a, b, rank, inFeatures, outFeatures, scaling);
        }
        var bt = new float[(long)rank * outFeatures]; // Bᵀ (r,out) in the role of A
        var at = new float[(long)inFeatures * rank];  // Aᵀ (in,r) in the role of B
        for (int k = 0; k < rank; k++)
        {
            for (int o = 0; o < outFeatures; o++)
            {
                bt[(k * outFeatures) + o] = b[(o * rank) + k];
            }
            for (int i = 0; i < inFeatures; i++)
            {
                at[(i * rank) + k] = a[(k * inFeatures) + i];
            }
        }
        return new LoraDelta(bt, at, rank, outFeatures, inFeatures, scaling);
    }

    /// <summary>The whole Δ (in,out); for tests and small matrices.</summary>
    public float[] Compute()
    {
        var d = new float[(long)In * Out];
        for (int i = 0; i < In; i++)
        {
            ComputeRow(i, d.AsSpan(i * Out, Out));
        }
        return d;
    }
}
