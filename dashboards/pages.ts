/**
 * The pages of the web app, one entry each (a multi-page Vite build): the key
 * is the page's path under /dashboards/ and the folder of its index.html under
 * dashboards/pages/. Add a page here and it is built, shipped and served.
 */
export const PAGES = {
  portal: 'pages/portal/index.html',
  // The analysts' SQL console (docs/sql.md "SQL console"), opened with a console link.
  sql: 'pages/sql/index.html',
  // The landing page, also served at / (links to the API reference, dashboards, metrics).
  home: 'pages/home/index.html',
} as const;

export type PageName = keyof typeof PAGES;
