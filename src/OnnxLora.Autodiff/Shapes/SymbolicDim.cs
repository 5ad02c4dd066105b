// One dimension as shape inference knows it: a number, a product factor·s1·s2·… of named symbols
// (batch_size, sequence_length; a symbol may repeat), or unknown. Products and exact quotients stay
// structured, so (2·B·T)/B = 2·T and B·T = T·B. It is not the ONNX IR's Dim: graph inputs keep
// dim_value/dim_param as declared, and nothing here is written back into a graph.
using System.Globalization;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Shapes;

internal readonly struct SymbolicDim : IEquatable<SymbolicDim>
{
    private readonly long _factor;
    private readonly string[]? _symbols; // sorted (ordinal), repeats kept; null when none
    private readonly bool _known;

    private SymbolicDim(long factor, string[]? symbols)
    {
        _known = true;
        _factor = factor;
        // 0·anything = 0
        _symbols = factor == 0 || symbols is not { Length: > 0 } ? null : symbols;
    }

    /// <summary>A dim nothing is known about. It is never provably equal to any dim, itself included.</summary>
    public static SymbolicDim Unknown => default;

    public static SymbolicDim Symbol(string name) => new(1, [name]);

    public static implicit operator SymbolicDim(long value) => new(value, null);

    /// <summary>
    /// A declared dim: dim_value, or dim_param read as a product ("batch_size", also "2*batch*time",
    /// whose numeric factors multiply), or unknown.
    /// </summary>
    public static SymbolicDim From(Dim dim)
    {
        if (dim.Value is { } v)
        {
            return v;
        }
        if (dim.Symbol is not { } text)
        {
            return Unknown;
        }
        long factor = 1;
        var symbols = new List<string>();
        foreach (var part in text.Split('*'))
        {
            if (long.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
            {
                factor *= n;
            }
            else
            {
                symbols.Add(part);
            }
        }
        symbols.Sort(StringComparer.Ordinal);
        return new SymbolicDim(factor, [.. symbols]);
    }

    public bool IsKnown => _known;

    /// <summary>The size when it is a plain number; null for a symbolic or unknown dim.</summary>
    public long? Value => _known && _symbols is null ? _factor : null;

    /// <summary>The numeric factor of a known dim (its value when it has no symbols).</summary>
    public long Factor => _factor;

    /// <summary>The symbol factors of a known dim, sorted, repeats kept (B·B·T → [B, B, T]).</summary>
    public IReadOnlyList<string> Symbols => _symbols ?? [];

    /// <summary>True when both dims are known and equal: the same number, or the same factor and symbols.</summary>
    public static bool ProvablyEqual(SymbolicDim a, SymbolicDim b) => a._known && a.Equals(b);

    public static SymbolicDim operator *(SymbolicDim a, SymbolicDim b)
    {
        if (!a._known || !b._known)
        {
            return Unknown;
        }
        var symbols = new List<string>(a.Symbols);
        symbols.AddRange(b.Symbols);
        symbols.Sort(StringComparer.Ordinal);
        return new SymbolicDim(a._factor * b._factor, [.. symbols]);
    }

    /// <summary>The product of dims; unknown when one of them is.</summary>
    public static SymbolicDim Product(IEnumerable<SymbolicDim> dims)
    {
        SymbolicDim product = 1;
        foreach (var d in dims)
        {
            product *= d;
        }
        return product;
    }

    /// <summary>
    /// this / divisor when the quotient is exact: the factors divide and every symbol of the divisor is one of
    /// this dim's (as often as it occurs). Null otherwise, and for unknown dims or a zero divisor.
    /// </summary>
    public SymbolicDim? DivideExactly(SymbolicDim divisor)
    {
        if (!_known || !divisor._known || divisor._factor == 0 || _factor % divisor._factor != 0)
        {
            return null;
        }
        var left = new List<string>(Symbols);
        foreach (var s in divisor.Symbols)
        {
            if (!left.Remove(s))
            {
                return null;
            }
        }
        return new SymbolicDim(_factor / divisor._factor, [.. left]);
    }

    /// <summary>The size under bindings of the symbols (batch_size → 8, …); null when unknown or a symbol is unbound.</summary>
    public long? Resolve(IReadOnlyDictionary<string, long> bindings)
    {
        if (!_known)
        {
            return null;
        }
        long value = _factor;
        foreach (var s in Symbols)
        {
            if (!bindings.TryGetValue(s, out var v))
            {
                return null;
            }
            value *= v;
        }
        return value;
    }

    /// <summary>Structural equality (an unknown dim equals the unknown dim here; use <see cref="ProvablyEqual"/> to compare sizes).</summary>
    public bool Equals(SymbolicDim other) =>
        _known == other._known && _factor == other._factor && Symbols.SequenceEqual(other.Symbols, StringComparer.Ordinal);

    public override bool Equals(object? obj) => obj is SymbolicDim other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(_known);
        hash.Add(_factor);
        foreach (var s in Symbols)
        {
            hash.Add(s, StringComparer.Ordinal);
        }
        return hash.ToHashCode();
    }

    public static bool operator ==(SymbolicDim a, SymbolicDim b) => a.Equals(b);

    public static bool operator !=(SymbolicDim a, SymbolicDim b) => !a.Equals(b);

    /// <summary>"8", "batch", "2*batch*time" or "?".</summary>
    public override string ToString() =>
        !_known ? "?"
        : _symbols is null ? _factor.ToString(CultureInfo.InvariantCulture)
        : string.Join('*', _factor == 1 ? _symbols : [_factor.ToString(CultureInfo.InvariantCulture), .. _symbols]);
}
