namespace Sam2Interactive.StandIns;

public static class Program
{
    public static int Main(string[] args) => 0;
}
