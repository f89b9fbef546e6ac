namespace Sam2Interactive.Api;

public static class Program
{
    public static int Main(string[] args) => 0;
}
