// Opens the side panel when the toolbar button is clicked.
"use strict";
chrome.sidePanel.setPanelBehavior({ openPanelOnActionClick: true }).catch(() => {});
