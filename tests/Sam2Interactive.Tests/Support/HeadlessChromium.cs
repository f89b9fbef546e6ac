using NUnit.Framework;
using OpenQA.Selenium.Chrome;

namespace Sam2Interactive.Tests.Support;

/// <summary>
/// Debian's Chromium, headless, driven by Debian's chromedriver through Selenium (nothing is downloaded at run time: the
/// browser and the driver come from <c>apt-get install chromium chromium-driver</c>, which .ci/run does). A fresh profile
/// and download folder per instance, both deleted on dispose.
/// </summary>
/// <remarks>Chosen over Microsoft.Playwright pointed at the same browser: measured side by side on this machine (busy,
/// load ≈ 26 on 2 cores), Selenium started the browser in 1.1–2.6 s against Playwright's 2.7–5.3 s, and adds a 7 MB
/// assembly where Playwright adds its 135 MB Node.js driver; chromedriver comes from the same Debian source package as the
/// browser, so their versions always match.</remarks>
internal sealed class HeadlessChromium : IDisposable
{
    public const string BrowserPath = "/usr/bin/chromium";
    public const string DriverPath = "/usr/bin/chromedriver";

    // Flags known to work in this container: no sandbox (root), no GPU, nothing fetched in the background.
    private static readonly string[] s_flags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,1000",
    ];

    private readonly DirectoryInfo _profile;
    private readonly ChromeDriverService _service;

    /// <summary>Starts the browser; fails the test (not skips it) when Chromium or chromedriver is missing.</summary>
    public HeadlessChromium()
    {
        if (!File.Exists(BrowserPath) || !File.Exists(DriverPath))
        {
            Assert.Fail($"Chromium is not installed ({BrowserPath}, {DriverPath}): run `apt-get install -y chromium chromium-driver` " +
                "(.ci/run installs them); the playground test needs a real browser.");
        }
        _profile = Directory.CreateTempSubdirectory("sam2i-chromium-");
        Downloads = _profile.CreateSubdirectory("downloads");
        var options = new ChromeOptions { BinaryLocation = BrowserPath };
        options.AddArguments(s_flags);
        options.AddArgument("--user-data-dir=" + _profile.CreateSubdirectory("profile").FullName);
        options.AddUserProfilePreference("download.default_directory", Downloads.FullName);
        options.AddUserProfilePreference("download.prompt_for_download", false);
        _service = ChromeDriverService.CreateDefaultService(DriverPath);
        _service.HideCommandPromptWindow = true;
        _service.SuppressInitialDiagnosticInformation = true;
        try
        {
            Driver = new ChromeDriver(_service, options, TimeSpan.FromSeconds(120));
            Driver.Manage().Timeouts().AsynchronousJavaScript = TimeSpan.FromSeconds(60);
            Driver.ExecuteCdpCommand("Browser.setDownloadBehavior", new Dictionary<string, object?> { ["behavior"] = "allow", ["downloadPath"] = Downloads.FullName });
        }
        catch
        {
            _service.Dispose();
            _profile.Delete(recursive: true);
            throw;
        }
    }

    public ChromeDriver Driver { get; }

    /// <summary>Where downloads land.</summary>
    public DirectoryInfo Downloads { get; }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        _service.Dispose();
        try
        {
            _profile.Delete(recursive: true);
        }
        catch (IOException)
        {
            // The browser may still be writing its profile as it exits; the folder is in /tmp.
        }
    }
}
