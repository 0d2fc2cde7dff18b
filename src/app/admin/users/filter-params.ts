import { text, urlFilter } from "../_components/url-filter";

/** The users list's search in the URL (?query=…: also the console search's link to a user). */
export const usersUrlFilter = urlFilter({ query: text(200) });

export type UsersFilter = ReturnType<typeof usersUrlFilter.parse>;
