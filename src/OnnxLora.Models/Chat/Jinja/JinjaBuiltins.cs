// The names a chat template can call: Jinja2's filters and tests, Python's str/list/dict methods (with Python's
// semantics, e.g. lstrip('\n') strips only newlines), operators, and the globals transformers adds
// (raise_exception, strftime_now) plus range, namespace and dict. Unknown names fail with the template line.
using System.Globalization;
using System.Text;

namespace OnnxLora.Models.Chat.Jinja;

internal static class JinjaBuiltins
{
    private static readonly HashSet<string> s_globals = ["raise_exception", "strftime_now", "range", "namespace", "dict", "joiner"];

    public static bool IsGlobal(string name) => s_globals.Contains(name);

    public static object? Global(string name, JinjaInterpreter interp) => name switch
    {
        "raise_exception" => (JinjaFunction)((args, _) => throw new JinjaRaisedException(JinjaValues.Str(args.FirstOrDefault()))),
        "strftime_now" => (JinjaFunction)((args, _) => Strftime(DateTime.Now, JinjaValues.Str(args.FirstOrDefault()))),
        "range" => (JinjaFunction)((args, _) => Range(args)),
        "namespace" => (JinjaFunction)((args, kwargs) =>
        {
            var values = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var d in args.OfType<Dictionary<string, object?>>())
            {
                foreach (var kv in d)
                {
                    values[kv.Key] = kv.Value;
                }
            }
            foreach (var kv in kwargs)
            {
                values[kv.Key] = kv.Value;
            }
            return new JinjaNamespace(values);
        }),
        "dict" => (JinjaFunction)((_, kwargs) => new Dictionary<string, object?>(kwargs, StringComparer.Ordinal)),
        "joiner" => (JinjaFunction)((args, _) =>
        {
            string sep = args.Count > 0 ? JinjaValues.Str(args[0]) : ", ";
            bool used = false;
            return (JinjaFunction)((_, _) =>
            {
                string r = used ? sep : "";
                used = true;
                return r;
            });
        }),
        _ => Undefined.Instance,
    };

    private static List<object?> Range(List<object?> args)
    {
        long[] a = args.Select(x => x is long l ? l : throw new JinjaArgumentException("range() takes integers")).ToArray();
        var (start, stop, step) = a.Length switch
        {
            1 => (0L, a[0], 1L),
            2 => (a[0], a[1], 1L),
            3 => (a[0], a[1], a[2]),
            _ => throw new JinjaArgumentException("range() takes 1 to 3 arguments"),
        };
        if (step == 0)
        {
            throw new JinjaArgumentException("range() step must not be zero");
        }
        var r = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            r.Add(i);
        }
        return r;
    }

    // ---- attributes and methods ----

    public static object? GetAttribute(object? target, string name, int line)
    {
        switch (target)
        {
            case Dictionary<string, object?> d:
                if (d.TryGetValue(name, out var v))
                {
                    return v;
                }
                return DictMethod(d, name) ?? (object)Undefined.Instance;
            case JinjaNamespace ns:
                return ns.Values.TryGetValue(name, out var nv) ? nv : Undefined.Instance;
            case string s:
                return StringMethod(s, name, line) ?? (object)Undefined.Instance;
            case List<object?> l:
                return ListMethod(l, name) ?? (object)Undefined.Instance;
            default:
                return Undefined.Instance;
        }
    }

    private static JinjaFunction? DictMethod(Dictionary<string, object?> d, string name) => name switch
    {
        "items" => (_, _) => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
        "keys" => (_, _) => d.Keys.Cast<object?>().ToList(),
        "values" => (_, _) => d.Values.ToList(),
        "get" => (args, _) => args.Count > 0 && d.TryGetValue(JinjaValues.Str(args[0]), out var v) ? v : args.Count > 1 ? args[1] : null,
        _ => null,
    };

    private static JinjaFunction? ListMethod(List<object?> l, string name) => name switch
    {
        "index" => (args, _) =>
        {
            int i = l.FindIndex(x => JinjaValues.Equals(x, args.FirstOrDefault()));
            return i >= 0 ? (long)i : throw new JinjaArgumentException("list.index(x): x not in list");
        },
        "count" => (args, _) => (long)l.Count(x => JinjaValues.Equals(x, args.FirstOrDefault())),
        _ => null,
    };

    private static JinjaFunction? StringMethod(string s, string name, int line) => name switch
    {
        "strip" => (args, _) => PyStrip(s, Chars(args), left: true, right: true),
        "lstrip" => (args, _) => PyStrip(s, Chars(args), left: true, right: false),
        "rstrip" => (args, _) => PyStrip(s, Chars(args), left: false, right: true),
        "upper" => (_, _) => s.ToUpperInvariant(),
        "lower" => (_, _) => s.ToLowerInvariant(),
        "title" => (_, _) => Title(s),
        "capitalize" => (_, _) => Capitalize(s),
        "startswith" => (args, _) => Affix(args, p => s.StartsWith(p, StringComparison.Ordinal)),
        "endswith" => (args, _) => Affix(args, p => s.EndsWith(p, StringComparison.Ordinal)),
        "split" => (args, kwargs) => Split(s, Arg(args, kwargs, 0, "sep"), Arg(args, kwargs, 1, "maxsplit")),
        "rsplit" => (args, kwargs) => RSplit(s, Arg(args, kwargs, 0, "sep"), Arg(args, kwargs, 1, "maxsplit")),
        "splitlines" => (_, _) => s.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n')
            .Take(s.EndsWith('\n') ? s.Split('\n').Length - 1 : int.MaxValue).Cast<object?>().ToList(),
        "replace" => (args, kwargs) => Replace(s, kwargs.TryGetValue("count", out var n) ? [.. args, n] : args),
        "find" => (args, _) => (long)s.IndexOf(JinjaValues.Str(args.FirstOrDefault()), StringComparison.Ordinal),
        "count" => (args, _) => (long)CountOccurrences(s, JinjaValues.Str(args.FirstOrDefault())),
        "join" => (args, _) => string.Join(s, JinjaValues.Iterate(args.FirstOrDefault(), line).Select(JinjaValues.Str)),
        "isdigit" => (_, _) => s.Length > 0 && s.All(char.IsDigit),
        "isalpha" => (_, _) => s.Length > 0 && s.All(char.IsLetter),
        "isspace" => (_, _) => s.Length > 0 && s.All(char.IsWhiteSpace),
        "islower" => (_, _) => s.Any(char.IsLetter) && !s.Any(char.IsUpper),
        "isupper" => (_, _) => s.Any(char.IsLetter) && !s.Any(char.IsLower),
        "format" => (args, _) => PercentFormat(s.Replace("{}", "%s", StringComparison.Ordinal), args),
        _ => null,
    };

    private static object? Arg(List<object?> args, Dictionary<string, object?> kwargs, int i, string name) =>
        i < args.Count ? args[i] : kwargs.TryGetValue(name, out var v) ? v : null;

    private static string? Chars(List<object?> args) => args.Count > 0 && args[0] is string c ? c : null;

    /// <summary>Python str.strip/lstrip/rstrip: with no argument, whitespace; with one, exactly those characters.</summary>
    public static string PyStrip(string s, string? chars, bool left, bool right)
    {
        Func<char, bool> strip = chars is null ? char.IsWhiteSpace : c => chars.Contains(c, StringComparison.Ordinal);
        int a = 0, b = s.Length;
        while (left && a < b && strip(s[a]))
        {
            a++;
        }
        while (right && b > a && strip(s[b - 1]))
        {
            b--;
        }
        return s[a..b];
    }

    private static bool Affix(List<object?> args, Func<string, bool> test) => args.FirstOrDefault() switch
    {
        List<object?> options => options.Any(o => test(JinjaValues.Str(o))),
        var p => test(JinjaValues.Str(p)),
    };

    private static List<object?> Split(string s, object? sep, object? maxsplit)
    {
        int max = maxsplit is long m && m >= 0 ? (int)m : -1;
        if (sep is null or Undefined)
        {
            // Python: runs of whitespace separate, leading/trailing whitespace gives no empty parts.
            var parts = new List<object?>();
            int i = 0;
            while (i < s.Length)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i]))
                {
                    i++;
                }
                if (i >= s.Length)
                {
                    break;
                }
                if (max >= 0 && parts.Count == max)
                {
                    parts.Add(s[i..]); // Python keeps the remainder's trailing whitespace
                    break;
                }
                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i]))
                {
                    i++;
                }
                parts.Add(s[start..i]);
            }
            return parts;
        }
        string separator = JinjaValues.Str(sep);
        if (separator.Length == 0)
        {
            throw new JinjaArgumentException("split(): empty separator");
        }
        return (max >= 0 ? s.Split(separator, max + 1) : s.Split(separator)).Cast<object?>().ToList();
    }

    private static List<object?> RSplit(string s, object? sep, object? maxsplit)
    {
        if (maxsplit is not long m || m < 0 || sep is null or Undefined)
        {
            return Split(s, sep, maxsplit);
        }
        string separator = JinjaValues.Str(sep);
        var parts = new List<object?>();
        int end = s.Length;
        while (parts.Count < m)
        {
            int at = s.LastIndexOf(separator, end - 1 < 0 ? 0 : end - 1, StringComparison.Ordinal);
            if (at < 0 || end == 0 || at + separator.Length > end)
            {
                break;
            }
            parts.Insert(0, s[(at + separator.Length)..end]);
            end = at;
        }
        parts.Insert(0, s[..end]);
        return parts;
    }

    private static string Replace(string s, List<object?> args)
    {
        string old = JinjaValues.Str(args.ElementAtOrDefault(0));
        string @new = JinjaValues.Str(args.ElementAtOrDefault(1));
        long count = args.Count > 2 && args[2] is long c ? c : -1;
        if (old.Length == 0)
        {
            // Python inserts the replacement before every character and at the end, up to count times.
            var chars = JinjaValues.StringInfoChars(s);
            var r = new StringBuilder();
            long left = count < 0 ? long.MaxValue : count;
            for (int i = 0; i <= chars.Count; i++)
            {
                if (left-- > 0)
                {
                    r.Append(@new);
                }
                if (i < chars.Count)
                {
                    r.Append(chars[i]);
                }
            }
            return r.ToString();
        }
        if (count < 0)
        {
            return s.Replace(old, @new, StringComparison.Ordinal);
        }
        var sb = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int at = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (at < 0 || old.Length == 0)
            {
                break;
            }
            sb.Append(s, pos, at - pos).Append(@new);
            pos = at + old.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0)
        {
            return s.Length + 1;
        }
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal))
        {
            n++;
        }
        return n;
    }

    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevLetter = false;
        foreach (char c in s)
        {
            sb.Append(prevLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            prevLetter = char.IsLetter(c);
        }
        return sb.ToString();
    }

    private static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    private static string PercentFormat(string format, List<object?> args)
    {
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            char spec = format[++i];
            if (spec == '%')
            {
                sb.Append('%');
                continue;
            }
            object? v = next < args.Count ? args[next++] : throw new JinjaArgumentException("not enough arguments for format string");
            sb.Append(spec switch
            {
                's' => JinjaValues.Str(v),
                'r' => JinjaValues.Repr(v),
                'd' or 'i' => Convert.ToInt64(JinjaValues.ToDouble(v)).ToString(CultureInfo.InvariantCulture),
                'f' => JinjaValues.ToDouble(v).ToString("F6", CultureInfo.InvariantCulture),
                _ => throw new JinjaArgumentException($"unsupported format character '{spec}'"),
            });
        }
        return sb.ToString();
    }

    // ---- operators ----

    public static bool CompareOp(string op, object? left, object? right, int line) => op switch
    {
        "==" => JinjaValues.Equals(left, right),
        "!=" => !JinjaValues.Equals(left, right),
        "<" => JinjaValues.Compare(left, right, line) < 0,
        ">" => JinjaValues.Compare(left, right, line) > 0,
        "<=" => JinjaValues.Compare(left, right, line) <= 0,
        ">=" => JinjaValues.Compare(left, right, line) >= 0,
        "in" => Contains(right, left, line),
        "notin" => !Contains(right, left, line),
        _ => throw new JinjaException(line, $"unknown comparison '{op}'"),
    };

    private static bool Contains(object? container, object? item, int line) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal)
            : throw new JinjaException(line, $"'in <string>' requires a string, not {JinjaValues.TypeName(item)}"),
        List<object?> l => l.Any(x => JinjaValues.Equals(x, item)),
        Dictionary<string, object?> d => item is string k && d.ContainsKey(k),
        JinjaNamespace ns => item is string k && ns.Values.ContainsKey(k),
        null or Undefined => false,
        _ => throw new JinjaException(line, $"argument of type {JinjaValues.TypeName(container)} is not iterable"),
    };

    public static object? Arithmetic(string op, object? a, object? b, int line)
    {
        if (op == "~")
        {
            return JinjaValues.Str(a) + JinjaValues.Str(b);
        }
        if (op == "+")
        {
            switch (a, b)
            {
                case (string x, string y):
                    return x + y;
                case (List<object?> x, List<object?> y):
                    return x.Concat(y).ToList();
            }
        }
        if (op == "*")
        {
            switch (a, b)
            {
                case (string s, long n):
                    return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n)));
                case (long n, string s):
                    return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n)));
                case (List<object?> l, long n):
                    return Enumerable.Repeat(l, (int)Math.Max(0, n)).SelectMany(x => x).ToList();
            }
        }
        if (op == "%" && a is string fmt)
        {
            return PercentFormat(fmt, b is List<object?> l ? l : [b]);
        }
        if (!JinjaValues.IsNumber(a) || !JinjaValues.IsNumber(b))
        {
            throw new JinjaException(line, $"unsupported operand types for {op}: {JinjaValues.TypeName(a)} and {JinjaValues.TypeName(b)}");
        }
        bool ints = a is long or bool && b is long or bool;
        if (ints)
        {
            long x = a is bool ba ? (ba ? 1 : 0) : (long)a!;
            long y = b is bool bb ? (bb ? 1 : 0) : (long)b!;
            switch (op)
            {
                case "+": return x + y;
                case "-": return x - y;
                case "*": return x * y;
                case "/":
                    return y == 0 ? throw new JinjaException(line, "division by zero") : (double)x / y;
                case "//":
                    return y == 0 ? throw new JinjaException(line, "division by zero") : FloorDiv(x, y);
                case "%":
                    return y == 0 ? throw new JinjaException(line, "modulo by zero") : ((x % y) + y) % y;
                case "**":
                    return y >= 0 ? (object)(long)Math.Pow(x, y) : Math.Pow(x, y);
            }
        }
        double p = JinjaValues.ToDouble(a), q = JinjaValues.ToDouble(b);
        return op switch
        {
            "+" => p + q,
            "-" => p - q,
            "*" => p * q,
            "/" => q == 0 ? throw new JinjaException(line, "division by zero") : p / q,
            "//" => q == 0 ? throw new JinjaException(line, "division by zero") : Math.Floor(p / q),
            "%" => q == 0 ? throw new JinjaException(line, "modulo by zero") : p - q * Math.Floor(p / q),
            "**" => Math.Pow(p, q),
            _ => throw new JinjaException(line, $"unknown operator '{op}'"),
        };
    }

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        return (x % y != 0) && ((x < 0) != (y < 0)) ? q - 1 : q;
    }

    // ---- tests ----

    public static bool Test(string name, object? v, List<object?> args, int line, JinjaInterpreter interp) => name switch
    {
        "defined" => v is not Undefined,
        "undefined" => v is Undefined,
        "none" => v is null,
        "string" => v is string,
        "number" => v is long or double,
        "integer" => v is long,
        "float" => v is double,
        "boolean" => v is bool,
        "true" => v is true,
        "false" => v is false,
        "mapping" => v is Dictionary<string, object?> or JinjaNamespace,
        "sequence" => v is List<object?> or string or Dictionary<string, object?>,
        "iterable" => v is List<object?> or string or Dictionary<string, object?>,
        "callable" => v is JinjaFunction,
        "odd" => v is long o && Math.Abs(o % 2) == 1,
        "even" => v is long e && e % 2 == 0,
        "divisibleby" => v is long d && args.FirstOrDefault() is long by && by != 0 && d % by == 0,
        "lower" => v is string lo && lo == lo.ToLowerInvariant(),
        "upper" => v is string up && up == up.ToUpperInvariant(),
        "in" => CompareOp("in", v, args.FirstOrDefault(), line),
        "sameas" => ReferenceEquals(v, args.FirstOrDefault()) || (v is bool or null && JinjaValues.Equals(v, args.FirstOrDefault())),
        "eq" or "equalto" or "==" => JinjaValues.Equals(v, args.FirstOrDefault()),
        "ne" or "!=" => !JinjaValues.Equals(v, args.FirstOrDefault()),
        "lt" or "lessthan" or "<" => JinjaValues.Compare(v, args.FirstOrDefault(), line) < 0,
        "le" or "<=" => JinjaValues.Compare(v, args.FirstOrDefault(), line) <= 0,
        "gt" or "greaterthan" or ">" => JinjaValues.Compare(v, args.FirstOrDefault(), line) > 0,
        "ge" or ">=" => JinjaValues.Compare(v, args.FirstOrDefault(), line) >= 0,
        _ => throw new JinjaException(line, $"unknown test '{name}'"),
    };

    // ---- filters ----

    public static object? Filter(string name, object? v, List<object?> args, Dictionary<string, object?> kwargs, int line, JinjaInterpreter interp)
    {
        object? A(int i, string key, object? dflt = null) => i < args.Count ? args[i] : kwargs.TryGetValue(key, out var k) ? k : dflt;
        switch (name)
        {
            case "trim":
                return PyStrip(JinjaValues.Str(v), A(0, "chars") as string, true, true);
            case "upper":
                return JinjaValues.Str(v).ToUpperInvariant();
            case "lower":
                return JinjaValues.Str(v).ToLowerInvariant();
            case "title":
                return Title(JinjaValues.Str(v));
            case "capitalize":
                return Capitalize(JinjaValues.Str(v));
            case "string":
                return JinjaValues.Str(v);
            case "safe" or "e" or "escape" or "forceescape":
                return name == "safe" ? v : Escape(JinjaValues.Str(v));
            case "length" or "count":
                return v switch
                {
                    string s => (long)JinjaValues.StringInfoChars(s).Count,
                    List<object?> l => (long)l.Count,
                    Dictionary<string, object?> d => (long)d.Count,
                    Undefined or null => 0L,
                    _ => throw new JinjaException(line, $"object of type {JinjaValues.TypeName(v)} has no length"),
                };
            case "first":
                return JinjaValues.Iterate(v, line) is { Count: > 0 } f ? f[0] : Undefined.Instance;
            case "last":
                return JinjaValues.Iterate(v, line) is { Count: > 0 } la ? la[^1] : Undefined.Instance;
            case "list":
                return JinjaValues.Iterate(v, line).ToList();
            case "reverse":
                return v is string rs ? string.Concat(JinjaValues.StringInfoChars(rs).AsEnumerable().Reverse())
                    : JinjaValues.Iterate(v, line).AsEnumerable().Reverse().ToList();
            case "join":
            {
                var items = JinjaValues.Iterate(v, line);
                if (A(1, "attribute") is { } attr and not Undefined)
                {
                    items = items.Select(x => GetPath(x, attr, line)).ToList();
                }
                return string.Join(JinjaValues.Str(A(0, "d", "")), items.Select(JinjaValues.Str));
            }
            case "default" or "d":
            {
                bool boolean = JinjaValues.IsTruthy(A(1, "boolean", false));
                return v is Undefined || (boolean && !JinjaValues.IsTruthy(v)) ? A(0, "default_value", "") : v;
            }
            case "tojson":
                return PyJson.Dumps(v, A(1, "indent") is long ind ? (int)ind : null, line, Separators(A(2, "separators")),
                    ensureAscii: JinjaValues.IsTruthy(A(0, "ensure_ascii", false)), sortKeys: JinjaValues.IsTruthy(A(3, "sort_keys", false)));
            case "items":
                return v is Dictionary<string, object?> di ? di.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList()
                    : v is Undefined or null ? new List<object?>() : throw new JinjaException(line, "items filter needs a mapping");
            case "dictsort":
            {
                if (v is not Dictionary<string, object?> ds)
                {
                    throw new JinjaException(line, "dictsort filter needs a mapping");
                }
                bool caseSensitive = JinjaValues.IsTruthy(A(0, "case_sensitive", false));
                bool byValue = JinjaValues.Str(A(1, "by", "key")) == "value";
                var cmp = SortComparer(caseSensitive, null, line);
                var items = ds.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList();
                return StableSort(items, x => ((List<object?>)x!)[byValue ? 1 : 0], cmp, JinjaValues.IsTruthy(A(2, "reverse", false)));
            }
            case "int":
                return ToInt(v, A(0, "default", 0L));
            case "float":
                return ToFloat(v, A(0, "default", 0.0));
            case "abs":
                return v is long al ? (object)Math.Abs(al) : Math.Abs(JinjaValues.ToDouble(v));
            case "round":
            {
                int precision = A(0, "precision") is long pr ? (int)pr : 0;
                string method = JinjaValues.Str(A(1, "method", "common"));
                double x = JinjaValues.ToDouble(v), scale = Math.Pow(10, precision);
                return method switch
                {
                    "ceil" => Math.Ceiling(x * scale) / scale,
                    "floor" => Math.Floor(x * scale) / scale,
                    _ => Math.Round(x * scale, MidpointRounding.AwayFromZero) / scale,
                };
            }
            case "sum":
            {
                object? total = A(1, "start", 0L);
                foreach (var x in JinjaValues.Iterate(v, line))
                {
                    total = Arithmetic("+", total, A(0, "attribute") is string at ? GetPath(x, at, line) : x, line);
                }
                return total;
            }
            case "min" or "max":
            {
                var items = JinjaValues.Iterate(v, line);
                if (items.Count == 0)
                {
                    return Undefined.Instance;
                }
                var sorted = items.OrderBy(x => x, Comparer<object?>.Create((p, q) => JinjaValues.Compare(p, q, line))).ToList();
                return name == "min" ? sorted[0] : sorted[^1];
            }
            case "unique":
            {
                var result = new List<object?>();
                foreach (var x in JinjaValues.Iterate(v, line))
                {
                    if (!result.Any(r => JinjaValues.Equals(r, x)))
                    {
                        result.Add(x);
                    }
                }
                return result;
            }
            case "sort":
            {
                // Jinja2: sort(reverse=False, case_sensitive=False, attribute=None); strings compare case-folded by default.
                bool reverse = JinjaValues.IsTruthy(A(0, "reverse", false));
                var cmp = SortComparer(JinjaValues.IsTruthy(A(1, "case_sensitive", false)), A(2, "attribute") as string, line);
                return StableSort(JinjaValues.Iterate(v, line), x => x, cmp, reverse);
            }
            case "map":
            {
                var items = JinjaValues.Iterate(v, line);
                if (kwargs.TryGetValue("attribute", out var mapAttr))
                {
                    return items.Select(x => GetPath(x, JinjaValues.Str(mapAttr), line) is Undefined && kwargs.TryGetValue("default", out var md)
                        ? md : GetPath(x, JinjaValues.Str(mapAttr), line)).ToList();
                }
                string filter = JinjaValues.Str(args.FirstOrDefault());
                return items.Select(x => Filter(filter, x, args.Skip(1).ToList(), [], line, interp)).ToList();
            }
            case "select" or "reject":
            {
                string test = args.Count > 0 ? JinjaValues.Str(args[0]) : "";
                bool keep = name == "select";
                return JinjaValues.Iterate(v, line).Where(x =>
                    (test.Length == 0 ? JinjaValues.IsTruthy(x) : Test(test, x, args.Skip(1).ToList(), line, interp)) == keep).ToList();
            }
            case "selectattr" or "rejectattr":
            {
                string attr = JinjaValues.Str(args.FirstOrDefault());
                string test = args.Count > 1 ? JinjaValues.Str(args[1]) : "";
                bool keep = name == "selectattr";
                return JinjaValues.Iterate(v, line).Where(x =>
                {
                    object? value = GetPath(x, attr, line);
                    return (test.Length == 0 ? JinjaValues.IsTruthy(value) : Test(test, value, args.Skip(2).ToList(), line, interp)) == keep;
                }).ToList();
            }
            case "replace":
                return Replace(JinjaValues.Str(v), kwargs.TryGetValue("count", out var rc) ? [.. args, rc] : args);
            case "indent":
                return Indent(JinjaValues.Str(v), A(0, "width", 4L), JinjaValues.IsTruthy(A(1, "first", false)), JinjaValues.IsTruthy(A(2, "blank", false)));
            case "center":
            {
                string s = JinjaValues.Str(v);
                int width = A(0, "width") is long w ? (int)w : 80;
                int pad = Math.Max(0, width - s.Length);
                return new string(' ', pad / 2) + s + new string(' ', pad - pad / 2);
            }
            case "wordcount":
                return (long)Split(JinjaValues.Str(v), null, null).Count;
            case "batch":
            {
                int size = A(0, "linecount") is long bs && bs > 0 ? (int)bs : throw new JinjaException(line, "batch needs a positive size");
                return JinjaValues.Iterate(v, line).Chunk(size).Select(c => (object?)c.ToList()).ToList();
            }
            case "format":
                return PercentFormat(JinjaValues.Str(v), args);
            case "attr":
                return GetAttribute(v, JinjaValues.Str(args.FirstOrDefault()), line);
            default:
                throw new JinjaException(line, $"unknown filter '{name}'");
        }
    }

    // Python's sorted(): stable, and reverse=True keeps equal items in their original order.
    private static List<object?> StableSort(List<object?> items, Func<object?, object?> key, Comparer<object?> cmp, bool reverse)
    {
        try
        {
            return (reverse ? items.OrderByDescending(key, cmp) : items.OrderBy(key, cmp)).ToList();
        }
        catch (InvalidOperationException e) when (e.InnerException is JinjaException inner)
        {
            throw inner;
        }
    }

    private static Comparer<object?> SortComparer(bool caseSensitive, string? attribute, int line) => Comparer<object?>.Create((p, q) =>
    {
        object? a = attribute is null ? p : GetPath(p, attribute, line);
        object? b = attribute is null ? q : GetPath(q, attribute, line);
        if (!caseSensitive && a is string x && b is string y)
        {
            return string.CompareOrdinal(x.ToLowerInvariant(), y.ToLowerInvariant());
        }
        return JinjaValues.Compare(a, b, line);
    });

    // transformers' tojson passes separators=(item, key) through to json.dumps.
    private static (string Item, string Key)? Separators(object? v) =>
        v is List<object?> { Count: 2 } l ? (JinjaValues.Str(l[0]), JinjaValues.Str(l[1])) : null;

    // "a.b.0": attribute or index path, as Jinja's attribute= arguments accept.
    private static object? GetPath(object? v, object? path, int line)
    {
        foreach (string part in JinjaValues.Str(path).Split('.'))
        {
            v = long.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out long i) && v is List<object?>
                ? JinjaValues.Index(v, i)
                : GetAttribute(v, part, line);
        }
        return v;
    }

    private static object? ToInt(object? v, object? dflt) => v switch
    {
        long l => l,
        bool b => b ? 1L : 0L,
        double d => (long)Math.Truncate(d),
        string s when long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long p) => p,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double f) => (long)Math.Truncate(f),
        _ => dflt,
    };

    private static object? ToFloat(object? v, object? dflt) => v switch
    {
        long l => (double)l,
        double d => d,
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double f) => f,
        _ => dflt,
    };

    private static string Indent(string s, object? width, bool first, bool blank)
    {
        string pad = width is string ws ? ws : new string(' ', width is long w ? (int)w : 4);
        var lines = s.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if ((i > 0 || first) && (blank || lines[i].Length > 0))
            {
                lines[i] = pad + lines[i];
            }
        }
        return string.Join('\n', lines);
    }

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal)
        .Replace("\"", "&#34;", StringComparison.Ordinal).Replace("'", "&#39;", StringComparison.Ordinal);

    /// <summary>Python time.strftime for the directives chat templates use (dates in system prompts).</summary>
    public static string Strftime(DateTime t, string format)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            char c = format[++i];
            sb.Append(c switch
            {
                'Y' => t.Year.ToString("D4", inv),
                'y' => (t.Year % 100).ToString("D2", inv),
                'm' => t.Month.ToString("D2", inv),
                'd' => t.Day.ToString("D2", inv),
                '-' when i + 1 < format.Length && format[i + 1] == 'd' => (++i > 0 ? t.Day : 0).ToString(inv),
                'H' => t.Hour.ToString("D2", inv),
                'I' => ((t.Hour + 11) % 12 + 1).ToString("D2", inv),
                'M' => t.Minute.ToString("D2", inv),
                'S' => t.Second.ToString("D2", inv),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'b' => t.ToString("MMM", inv),
                'B' => t.ToString("MMMM", inv),
                'a' => t.ToString("ddd", inv),
                'A' => t.ToString("dddd", inv),
                'j' => t.DayOfYear.ToString("D3", inv),
                '%' => "%",
                _ => "%" + c,
            });
        }
        return sb.ToString();
    }
}
