@echo off
rem makguard as an MDT task sequence step (docs/ci.md, "MDT"): refuses to capture an image
rem that embeds a product key other than a public KMS client key (GVLK).
rem
rem Add a "Run Command Line" step right before "Capture Image" in the Sysprep and Capture
rem phase of the task sequence:
rem
rem   cmd.exe /c "%DEPLOYROOT%\Tools\makguard\makguard-precapture.cmd" %OSDisk%\
rem
rem (put makguard.exe and this script in the deployment share's Tools\makguard). The argument
rem is what to scan: the offline Windows volume (%OSDisk%\ in WinPE) or, in a step after
rem "Capture Image", the captured .wim file itself. Reports go to %DEPLOYROOT%\Logs\makguard
rem (or %TEMP% when the share is read-only). A non-zero exit fails the step, so the task
rem sequence stops before a bad image is captured: 1 = keys found, 2 = usage or configuration
rem error, 3 = the scan was incomplete.
setlocal
set "MAKGUARD=%~dp0makguard.exe"
set "TARGET=%~1"
if "%TARGET%"=="" (
  echo makguard-precapture: name what to scan, e.g. %%OSDisk%%\ 1>&2
  exit /b 2
)
set "REPORTS=%DEPLOYROOT%\Logs\makguard"
if "%DEPLOYROOT%"=="" set "REPORTS=%TEMP%\makguard"
if not exist "%REPORTS%" mkdir "%REPORTS%" 2>nul
if not exist "%REPORTS%" set "REPORTS=%TEMP%\makguard"
if not exist "%REPORTS%" mkdir "%REPORTS%"
"%MAKGUARD%" scan "%TARGET%" --no-progress --format text ^
  --format "json=%REPORTS%\makguard.json" --format "junit=%REPORTS%\makguard.xml"
set "CODE=%ERRORLEVEL%"
if "%CODE%"=="0" echo makguard: %TARGET% is clean.
if "%CODE%"=="1" echo makguard: %TARGET% holds product keys that must not ship; not capturing. 1>&2
if "%CODE%"=="2" echo makguard: usage or configuration error. 1>&2
if "%CODE%"=="3" echo makguard: the scan of %TARGET% was incomplete: it is not known to be clean. 1>&2
exit /b %CODE%
