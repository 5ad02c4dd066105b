// Publishing a file so that a crash leaves either the old state or the complete new file: write a temp
// file beside the target, fsync it, rename over the target, fsync the folder (POSIX; elsewhere the rename).
using System.Runtime.InteropServices;

namespace OnnxLora.Worker.Execution;

public static partial class DurableFile
{
    private const int ReadOnly = 0;

    /// <summary>Writes <paramref name="target"/> through <paramref name="write"/> into a temp file, then publishes it.</summary>
    public static void Write(string target, Action<Stream> write)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(target))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(target)}.tmp-{Guid.NewGuid():N}");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
            SyncDirectory(dir);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public static void Copy(string source, string target) => Write(target, s =>
    {
        using var src = File.OpenRead(source);
        src.CopyTo(s);
    });

    /// <summary>fsync of a folder, which makes a rename inside it durable.</summary>
    public static void SyncDirectory(string dir)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }
        int fd = Open(dir, ReadOnly);
        if (fd < 0)
        {
            throw new IOException($"{dir}: cannot open folder to sync it (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"{dir}: fsync failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
