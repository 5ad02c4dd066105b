// Sizes of one int4 MatMulNBits weight as ORT's blockwise quantizer (the GenAI model builder's `-p int4`) lays it out:
// W (K,N) = [in,out] is quantized per column n along K in blocks of BlockSize values. Codes (N, kb, BlockSize/2) uint8,
// even k in the low nibble; scales (N·kb) column-major by n; zero points (N·ceil(kb/2)) uint8, block 2i in the low nibble.
// It holds sizes and the rules on them only; Int4Quantizer and Int4Dequantizer do the arithmetic.
// K=in features, N=out features, kb=blocks per column
using System.Globalization;

namespace OnnxLora.Onnx.Quantization;

public readonly record struct Int4BlockLayout
{
    public const int Bits = 4;
    public const int DefaultBlockSize = 32;
    public const int MinBlockSize = 16;

    /// <summary>2^(bits−1): MatMulNBits' zero point when the input is absent, and the padding nibble of odd kb.</summary>
    public const byte DefaultZeroPoint = 8;

    public const int MaxCode = (1 << Bits) - 1;

    public Int4BlockLayout(int k, int n, int blockSize, bool symmetric)
    {
        if (k <= 0 || n <= 0)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"int4 layout: K={k} and N={n} must be positive"));
        }
        if (CheckBlockSize(blockSize) is { } reason)
        {
            throw new BadInputException(reason);
        }
        K = k;
        N = n;
        BlockSize = blockSize;
        Symmetric = symmetric;
    }

    /// <summary>Rows of W: the axis quantized in blocks (MatMulNBits' K attribute).</summary>
    public int K { get; }

    /// <summary>Columns of W (MatMulNBits' N attribute).</summary>
    public int N { get; }

    public int BlockSize { get; }

    /// <summary>True: no zero-point tensor (zero point 8, the builder's default). False: one zero point per block.</summary>
    public bool Symmetric { get; }

    /// <summary>kb = ceil(K / BlockSize).</summary>
    public int BlocksPerColumn => (K + BlockSize - 1) / BlockSize;

    /// <summary>Bytes per block of codes: BlockSize/2.</summary>
    public int BlobBytes => BlockSize / 2;

    public int CodeBytesPerColumn => BlocksPerColumn * BlobBytes;

    public int ZeroPointBytesPerColumn => (BlocksPerColumn + 1) / 2;

    /// <summary>K is not a multiple of the block size: the last block of each column is zero-padded past K.</summary>
    public bool HasPartialBlock => K % BlockSize != 0;

    public long CodeBytes => (long)N * CodeBytesPerColumn;

    public long ScaleCount => (long)N * BlocksPerColumn;

    public long ZeroPointBytes => Symmetric ? 0 : (long)N * ZeroPointBytesPerColumn;

    /// <summary>Shape of the codes initializer, (N, kb, BlockSize/2).</summary>
    public long[] CodeDims => [N, BlocksPerColumn, BlobBytes];

    /// <summary>Shape of the scales initializer as the builder writes it: flat (N·kb).</summary>
    public long[] ScaleDims => [ScaleCount];

    /// <summary>Shape of the zero-point initializer: flat (N·ceil(kb/2)).</summary>
    public long[] ZeroPointDims => [ZeroPointBytes];

    /// <summary>Null when MatMulNBits accepts <paramref name="blockSize"/> (a power of two, at least 16), else why not.</summary>
    public static string? CheckBlockSize(int blockSize) =>
        blockSize >= MinBlockSize && (blockSize & (blockSize - 1)) == 0
            ? null
            : string.Create(CultureInfo.InvariantCulture, $"block size {blockSize} is not supported (MatMulNBits needs a power of two ≥ {MinBlockSize})");
}
