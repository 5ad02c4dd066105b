// The runtime values of the Jinja engine and Python's rules for them: truthiness, str() and repr(), equality,
// ordering and indexing. Values are null (None), Undefined, bool, long, double, string, List<object?>,
// Dictionary<string, object?> (insertion-ordered), JinjaNamespace and JinjaFunction. No I/O, no rendering.
using System.Globalization;
using System.Text;

namespace OnnxLora.Models.Chat.Jinja;

internal delegate object? JinjaFunction(List<object?> args, Dictionary<string, object?> kwargs);

/// <summary>A missing variable, attribute or key: prints as "", is falsy, and "is defined" is false for it.</summary>
internal sealed class Undefined
{
    public static readonly Undefined Instance = new();

    private Undefined()
    {
    }

    public override string ToString() => "";
}

/// <summary>namespace(...): the one mutable object templates may assign attributes on from inside a loop.</summary>
internal sealed class JinjaNamespace(Dictionary<string, object?> values)
{
    public Dictionary<string, object?> Values { get; } = values;
}

internal static class JinjaValues
{
    public static bool IsTruthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        Dictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    /// <summary>Python str(): what {{ v }} prints.</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(v),
    };

    /// <summary>Python repr(): used for values inside printed lists and dicts.</summary>
    public static string Repr(object? v)
    {
        switch (v)
        {
            case null:
                return "None";
            case Undefined:
                return "";
            case bool b:
                return b ? "True" : "False";
            case long l:
                return l.ToString(CultureInfo.InvariantCulture);
            case double d:
                return FormatFloat(d);
            case string s:
                return ReprString(s);
            case List<object?> list:
                return "[" + string.Join(", ", list.Select(Repr)) + "]";
            case Dictionary<string, object?> dict:
                return "{" + string.Join(", ", dict.Select(kv => ReprString(kv.Key) + ": " + Repr(kv.Value))) + "}";
            case JinjaNamespace:
                return "<Namespace>";
            default:
                return v.ToString() ?? "";
        }
    }

    /// <summary>Python's float repr: shortest round-trip digits, always with a '.' or exponent.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d))
        {
            return "nan";
        }
        if (double.IsInfinity(d))
        {
            return d > 0 ? "inf" : "-inf";
        }
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        if (r.Contains('E', StringComparison.Ordinal))
        {
            // .NET "1E+16" → Python "1e+16"
            var parts = r.Split('E');
            string exp = parts[1].StartsWith('-') ? parts[1] : "+" + parts[1].TrimStart('+');
            string digits = exp[1..].PadLeft(2, '0');
            return parts[0] + "e" + exp[0] + digits;
        }
        return r.Contains('.', StringComparison.Ordinal) ? r : r + ".0";
    }

    private static string ReprString(string s)
    {
        char quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote)
                    {
                        sb.Append('\\');
                    }
                    sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).ToString();
    }

    public static new bool Equals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined)
        {
            return a is Undefined && b is Undefined;
        }
        if (IsNumber(a) && IsNumber(b))
        {
            return a is long x && b is long y ? x == y : ToDouble(a) == ToDouble(b);
        }
        return (a, b) switch
        {
            (null, null) => true,
            (null, _) or (_, null) => false,
            (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
            (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => Equals(p.First, p.Second)),
            (Dictionary<string, object?> x, Dictionary<string, object?> y) =>
                x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var o) && Equals(kv.Value, o)),
            _ => ReferenceEquals(a, b),
        };
    }

    public static int Compare(object? a, object? b, int line)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            return a is long x && b is long y ? x.CompareTo(y) : ToDouble(a).CompareTo(ToDouble(b));
        }
        if (a is string s && b is string t)
        {
            return string.CompareOrdinal(s, t);
        }
        if (a is List<object?> l && b is List<object?> m)
        {
            for (int i = 0; i < Math.Min(l.Count, m.Count); i++)
            {
                int c = Compare(l[i], m[i], line);
                if (c != 0)
                {
                    return c;
                }
            }
            return l.Count.CompareTo(m.Count);
        }
        throw new JinjaException(line, $"cannot compare {TypeName(a)} with {TypeName(b)}");
    }

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(TypeName(v)),
    };

    public static string TypeName(object? v) => v switch
    {
        null => "none",
        Undefined => "undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        JinjaNamespace => "namespace",
        JinjaFunction => "function",
        _ => v.GetType().Name,
    };

    /// <summary>Python indexing with negative indices; out of range gives Undefined, as Jinja's getitem does.</summary>
    public static object? Index(object? target, object? index)
    {
        switch (target)
        {
            case List<object?> list when index is long i:
                i = i < 0 ? i + list.Count : i;
                return i >= 0 && i < list.Count ? list[(int)i] : Undefined.Instance;
            case string s when index is long i:
            {
                var chars = StringInfoChars(s);
                i = i < 0 ? i + chars.Count : i;
                return i >= 0 && i < chars.Count ? chars[(int)i] : Undefined.Instance;
            }
            case Dictionary<string, object?> d:
                return index is not null and not Undefined && d.TryGetValue(Str(index), out var v) ? v : Undefined.Instance;
            case JinjaNamespace ns when index is string key:
                return ns.Values.TryGetValue(key, out var nv) ? nv : Undefined.Instance;
            default:
                return Undefined.Instance;
        }
    }

    /// <summary>A string as a list of code points (Python indexes and slices by code point, not UTF-16 unit).</summary>
    public static List<string> StringInfoChars(string s)
    {
        var list = new List<string>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                list.Add(s.Substring(i, 2));
                i++;
            }
            else
            {
                list.Add(s[i].ToString());
            }
        }
        return list;
    }

    /// <summary>Python slicing target[start:stop:step] for lists and strings.</summary>
    public static object? Slice(object? target, long? start, long? stop, long? step, int line)
    {
        long st = step ?? 1;
        if (st == 0)
        {
            throw new JinjaException(line, "slice step cannot be zero");
        }
        List<object?> items = target switch
        {
            List<object?> l => l,
            string s => StringInfoChars(s).Cast<object?>().ToList(),
            _ => throw new JinjaException(line, $"cannot slice {TypeName(target)}"),
        };
        long n = items.Count;
        long Clamp(long? v, long dflt, long lo, long hi)
        {
            if (v is not { } x)
            {
                return dflt;
            }
            x = x < 0 ? x + n : x;
            return Math.Clamp(x, lo, hi);
        }
        var result = new List<object?>();
        if (st > 0)
        {
            for (long i = Clamp(start, 0, 0, n), end = Clamp(stop, n, 0, n); i < end; i += st)
            {
                result.Add(items[(int)i]);
            }
        }
        else
        {
            for (long i = Clamp(start, n - 1, -1, n - 1), end = Clamp(stop, -1, -1, n - 1); i > end; i += st)
            {
                result.Add(items[(int)i]);
            }
        }
        return target is string ? string.Concat(result.Cast<string>()) : result;
    }

    /// <summary>What "for x in v" iterates: list items, dict keys, string characters.</summary>
    public static List<object?> Iterate(object? v, int line) => v switch
    {
        List<object?> l => l,
        Dictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
        string s => StringInfoChars(s).Cast<object?>().ToList(),
        null or Undefined => [],
        _ => throw new JinjaException(line, $"{TypeName(v)} is not iterable"),
    };
}
