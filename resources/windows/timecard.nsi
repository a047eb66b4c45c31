; The Windows installer, timecard-VERSION-setup.exe, built by
; ci/package-windows-installer.sh with Debian's makensis, which passes
; VERSION, VERSION_NUMERIC (four numbers), EXE, ICON, LICENSE and OUTFILE.
;
; Per user, no administrator: the program goes to
; %LOCALAPPDATA%\Programs\Timecard, its Start-menu shortcut and the
; Add/Remove Programs entry belong to the current user (HKCU). The data
; folder (%LOCALAPPDATA%\Timecard: cache, settings, sign-in, logs) is the
; app's; the uninstaller keeps it unless asked.
;
; Switches beside NSIS's own /S (silent) and /D=FOLDER:
;   setup.exe /AUTOSTART    also start Timecard when the user signs in
;   setup.exe /RELAUNCH     start the installed Timecard when done (the
;                           app's updater runs `setup.exe /S /RELAUNCH`)
;   uninstall.exe /REMOVEDATA   also delete the data folder
; A silent install without /AUTOSTART leaves the sign-in setting as it was
; (an update keeps the user's choice).

Unicode true
Target amd64-unicode
ManifestDPIAware true

!include MUI2.nsh
!include LogicLib.nsh
!include FileFunc.nsh
!include Sections.nsh

!define APP "Timecard"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Timecard"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"

Name "${APP}"
OutFile "${OUTFILE}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\Timecard"
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
SetCompressor /SOLID lzma
Icon "${ICON}"
UninstallIcon "${ICON}"
BrandingText "Timecard ${VERSION}"

VIProductVersion "${VERSION_NUMERIC}"
VIAddVersionKey "ProductName" "Timecard"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "Timecard installer"
VIAddVersionKey "LegalCopyright" "MIT licence"

Var Relaunch

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\timecard.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start Timecard"
!insertmacro MUI_PAGE_LICENSE "${LICENSE}"
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Timecard" SecProgram
    SectionIn RO
    SetOutPath "$INSTDIR"
    ; An upgrade while Timecard runs: Windows lets a running program's file
    ; be renamed, not replaced. The old copy goes at the next install.
    Delete "$INSTDIR\timecard.exe.old"
    ${If} ${FileExists} "$INSTDIR\timecard.exe"
        Rename "$INSTDIR\timecard.exe" "$INSTDIR\timecard.exe.old"
        Delete "$INSTDIR\timecard.exe.old"
    ${EndIf}
    File "/oname=timecard.exe" "${EXE}"
    File "/oname=timecard.ico" "${ICON}"
    File "/oname=LICENSE.txt" "${LICENSE}"
    WriteUninstaller "$INSTDIR\uninstall.exe"

    ; The Start-menu shortcut carries the AppUserModelID, so toasts are
    ; Timecard's: the program writes it (see `timecard shortcut`).
    CreateDirectory "$SMPROGRAMS"
    nsExec::ExecToLog '"$INSTDIR\timecard.exe" shortcut --icon "$INSTDIR\timecard.ico" "$SMPROGRAMS\Timecard.lnk"'
    Pop $0
    ${If} $0 != 0
        DetailPrint "Writing the shortcut with its AppUserModelID failed ($0); a plain one instead: toasts will not say Timecard."
        CreateShortcut "$SMPROGRAMS\Timecard.lnk" "$INSTDIR\timecard.exe" "" "$INSTDIR\timecard.ico" 0
    ${EndIf}

    WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "Timecard"
    WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
    WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "Timecard"
    WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\timecard.ico"
    WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
    WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
    WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
    WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
    WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
    ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
    WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" $0
SectionEnd

Section /o "Start Timecard when I sign in" SecAutostart
    ; The same value the app's Settings switch writes and removes.
    WriteRegStr HKCU "${RUN_KEY}" "Timecard" '"$INSTDIR\timecard.exe"'
SectionEnd

Section "-Autostart unchosen"
    ; Unticked in the window: off. Silent: as it was.
    ${IfNot} ${SectionIsSelected} ${SecAutostart}
    ${AndIfNot} ${Silent}
        DeleteRegValue HKCU "${RUN_KEY}" "Timecard"
    ${EndIf}
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
    !insertmacro MUI_DESCRIPTION_TEXT ${SecProgram} "The Timecard app, its Start-menu shortcut and its uninstaller."
    !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} "Start Timecard when you sign in to Windows (you can change this later in Timecard's Settings)."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Function .onInit
    StrCpy $Relaunch 0
    ${GetParameters} $R0
    ClearErrors
    ${GetOptions} $R0 "/AUTOSTART" $R1
    ${IfNot} ${Errors}
        !insertmacro SelectSection ${SecAutostart}
    ${EndIf}
    ; Already on (an upgrade): shown ticked.
    ReadRegStr $R1 HKCU "${RUN_KEY}" "Timecard"
    ${If} $R1 != ""
        !insertmacro SelectSection ${SecAutostart}
    ${EndIf}
    ClearErrors
    ${GetOptions} $R0 "/RELAUNCH" $R1
    ${IfNot} ${Errors}
        StrCpy $Relaunch 1
    ${EndIf}
FunctionEnd

Function .onInstSuccess
    ${If} $Relaunch == 1
        Exec '"$INSTDIR\timecard.exe"'
    ${EndIf}
FunctionEnd

Section "un.Timecard" UnSecProgram
    SectionIn RO
    Delete "$INSTDIR\timecard.exe"
    Delete "$INSTDIR\timecard.exe.old"
    Delete "$INSTDIR\timecard.ico"
    Delete "$INSTDIR\LICENSE.txt"
    Delete "$INSTDIR\uninstall.exe"
    RMDir "$INSTDIR"
    Delete "$SMPROGRAMS\Timecard.lnk"
    DeleteRegValue HKCU "${RUN_KEY}" "Timecard"
    DeleteRegKey HKCU "${UNINST_KEY}"
SectionEnd

Section /o "un.Also delete my data" UnSecData
    ; The app's data folder (platform/paths.rs): time not yet uploaded
    ; goes with it.
    RMDir /r "$LOCALAPPDATA\Timecard"
SectionEnd

!insertmacro MUI_UNFUNCTION_DESCRIPTION_BEGIN
    !insertmacro MUI_DESCRIPTION_TEXT ${UnSecProgram} "The program, its shortcut, starting at sign-in and its Add/Remove Programs entry."
    !insertmacro MUI_DESCRIPTION_TEXT ${UnSecData} "Settings, sign-in, logs and the time cache in $LOCALAPPDATA\Timecard, including time not yet uploaded. Kept unless ticked."
!insertmacro MUI_UNFUNCTION_DESCRIPTION_END

Function un.onInit
    ${GetParameters} $R0
    ClearErrors
    ${GetOptions} $R0 "/REMOVEDATA" $R1
    ${IfNot} ${Errors}
        !insertmacro SelectSection ${UnSecData}
    ${EndIf}
FunctionEnd
